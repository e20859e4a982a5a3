// tree: reconstruct's repairs of a whole Maildir++ tree (repair.hpp):
// each folder (INBOX is the root; every ".Name" directory is one), then
// the subscriptions file without the names no folder could have, then
// maildirsize counted again from the messages.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_files.hpp"
#include "imap/imap_store.hpp"
#include "repair.hpp"

namespace reconstruct {

using namespace postern;

namespace {

std::vector<std::string> folder_dirs(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 2 || n[0] != '.' || n == "..") continue;
    struct stat st {};
    if (::lstat((root + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void fix_subscriptions(const std::string& root, const Options& o, Report& r) {
  auto text = read_regular_file(root + "/subscriptions", 1 << 20);
  if (!text) return;
  auto s = imap::parse_subscriptions(*text);
  std::size_t read = s.names.size();
  std::vector<std::string> keep;
  for (auto& n : s.names) {
    if (!imap::valid_name(n)) {
      r.changes.push_back(fmt::format("{}: subscription {} dropped (not a folder name)", root, log::printable(n, 200)));
      continue;
    }
    if (std::find(keep.begin(), keep.end(), n) == keep.end()) keep.push_back(n);
  }
  s.names = keep;
  if (imap::format_subscriptions(s) == *text) return;
  if (keep.size() == read)
    r.changes.push_back(fmt::format("{}: subscriptions rewritten without the lines that cannot be read", root));
  if (!o.dry_run && !imap::write_subscriptions(root, keep))
    r.problems.push_back(fmt::format("{}: cannot write subscriptions", root));
}

void fix_maildirsize(const std::string& root, const Options& o, Report& r) {
  auto text = read_regular_file(root + "/maildirsize", 1 << 20);
  maildir_quota::Limits limits = o.limits;
  if (!limits.any()) {
    if (!text) return;  // no quota, no file: nothing to keep
    limits = maildir_quota::parse_file(*text).limits;
  }
  auto now = maildir_quota::count(root);
  if (!now) return;
  std::string want = maildir_quota::definition(limits) + "\n" + std::to_string(now->bytes) + " " +
                     std::to_string(now->messages) + "\n";
  if (text && *text == want) return;
  std::string was = "none";
  if (text) {
    auto f = maildir_quota::parse_file(*text);
    was = f.sound ? fmt::format("{} message(s), {} bytes, limits \"{}\"", f.usage.messages, f.usage.bytes,
                                maildir_quota::definition(f.limits))
                  : "unreadable";
  }
  r.changes.push_back(fmt::format("{}: maildirsize counted again: {} message(s), {} bytes, limits \"{}\" (it said {})",
                                  root, now->messages, now->bytes, maildir_quota::definition(limits), was));
  maildir_quota::Usage u;
  std::string why;
  if (!o.dry_run && !maildir_quota::recalculate(root, limits, u, why)) r.problems.push_back(root + ": " + why);
}

}  // namespace

void repair_tree(const std::string& root, const Options& o, Report& r) {
  repair_folder(root, true, o, r);
  for (const auto& f : folder_dirs(root)) repair_folder(root + "/" + f, false, o, r);
  fix_subscriptions(root, o, r);
  fix_maildirsize(root, o, r);
}

}  // namespace reconstruct
