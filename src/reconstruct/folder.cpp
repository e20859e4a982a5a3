// folder: reconstruct's repairs of one Maildir folder (repair.hpp).
//   - cur/, new/, tmp/ (and a subfolder's maildirfolder) made when missing
//   - tmp/ files older than 36 hours removed (Maildir's rule)
//   - a message in new/ with an info part (":2,...") moved to cur/
//   - a name with control bytes or spaces, with a ':' that is no ":2,"
//     info, or whose base another file has too, renamed to a new unique
//     name; a ",S=" that is not the file's size corrected (",W=" dropped)
//   - dovecot-uidlist: the renames above keep their UIDs, records of
//     files that are gone are dropped, a W= that is not the message's
//     size is corrected, an unreadable file is set aside (the folder then
//     starts a new UIDVALIDITY), and messages without a UID get one (the
//     store's sync, as imapd's)
//   - dovecot-keywords rewritten without the lines Dovecot cannot read
// Runs as the owner; trusts nothing in the files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_dotlock.hpp"
#include "imap/imap_files.hpp"
#include "imap/imap_store.hpp"
#include "mail/maildir.hpp"
#include "mail/maildir_list.hpp"
#include "repair.hpp"

namespace reconstruct {

using namespace postern;
using namespace postern::imap;

namespace {

constexpr std::time_t tmp_age = 36 * 3600;

std::string shown(std::string_view name) { return log::printable(name, 200); }

bool bad_bytes(std::string_view name) {
  for (unsigned char c : name)
    if (c <= ' ' || c == 0x7f) return true;
  return false;
}

// What is wrong with a message's name, or "" when nothing.
std::string name_fault(std::string_view name, bool in_cur) {
  if (bad_bytes(name)) return "control bytes or spaces in the name";
  auto colon = name.find(':');
  if (colon == 0) return "no base name";
  if (colon != std::string_view::npos && (!in_cur || name.substr(colon, 3) != ":2,"))
    return in_cur ? "an info part that is not \":2,\"" : "";
  return "";
}

// base with its ",S=" set to size and any ",W=" removed.
std::string with_size(std::string_view base, std::uint64_t size) {
  std::string out;
  std::size_t i = 0;
  while (i < base.size()) {
    if (base[i] == ',' && i + 2 < base.size() && (base[i + 1] == 'S' || base[i + 1] == 'W') && base[i + 2] == '=') {
      std::size_t j = i + 3;
      while (j < base.size() && base[j] >= '0' && base[j] <= '9') ++j;
      i = j;
      continue;
    }
    out += base[i++];
  }
  return out + ",S=" + std::to_string(size);
}

struct Renamer {
  const std::string& dir;
  const Options& o;
  Report& r;
  std::map<std::string, std::string> bases;  // old base -> new base (UIDs follow)

  void rename(const std::string& from_sub, const std::string& from, const std::string& to_sub, const std::string& to,
              const std::string& why) {
    r.changes.push_back(fmt::format("{}: {}/{} renamed to {}/{} ({})", dir, from_sub, shown(from), to_sub, to, why));
    if (!base_of(from).empty() && base_of(from) != base_of(to)) bases[std::string(base_of(from))] = base_of(to);
    if (o.dry_run) return;
    std::string target = dir + "/" + to_sub + "/" + to;
    // link then unlink: an existing name is never replaced
    if (::link((dir + "/" + from_sub + "/" + from).c_str(), target.c_str()) != 0 ||
        ::unlink((dir + "/" + from_sub + "/" + from).c_str()) != 0)
      r.problems.push_back(fmt::format("{}: cannot rename {}/{}: {}", dir, from_sub, shown(from), std::strerror(errno)));
  }
};

void make_dirs(const std::string& dir, bool is_root, const Options& o, Report& r) {
  for (const char* sub : {"cur", "new", "tmp"}) {
    struct stat st {};
    std::string p = dir + "/" + sub;
    if (::lstat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) r.problems.push_back(fmt::format("{}: {} is not a directory; left alone", dir, sub));
      continue;
    }
    r.changes.push_back(fmt::format("{}: made {}/", dir, sub));
    if (!o.dry_run && ::mkdir(p.c_str(), 0700) != 0)
      r.problems.push_back(fmt::format("{}: cannot make {}: {}", dir, sub, std::strerror(errno)));
  }
  struct stat st {};
  if (!is_root && ::lstat((dir + "/maildirfolder").c_str(), &st) != 0) {
    r.changes.push_back(fmt::format("{}: made maildirfolder (the Maildir++ mark of a folder)", dir));
    if (!o.dry_run) write_file_atomic(dir + "/maildirfolder", "", 0600, true);
  }
}

void clean_tmp(const std::string& dir, const Options& o, Report& r) {
  std::vector<std::string> names;
  if (!maildir::visible_names(dir + "/tmp", names)) return;
  std::time_t now = std::time(nullptr);
  for (const auto& n : names) {
    struct stat st {};
    std::string p = dir + "/tmp/" + n;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || now - st.st_mtime < tmp_age) continue;
    r.changes.push_back(fmt::format("{}: removed tmp/{} ({} hours old: a delivery that never finished)", dir, shown(n),
                                    (now - st.st_mtime) / 3600));
    if (!o.dry_run) ::unlink(p.c_str());
  }
}

void fix_names(const std::string& dir, Renamer& rn) {
  std::set<std::string> seen;  // bases, across new/ and cur/
  for (const char* sub : {"cur", "new"}) {
    bool in_cur = std::string_view(sub) == "cur";
    std::vector<std::string> names;
    if (!maildir::visible_names(dir + "/" + sub, names)) continue;
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      struct stat st {};
      if (::lstat((dir + "/" + sub + "/" + n).c_str(), &st) != 0) continue;
      if (!S_ISREG(st.st_mode)) {
        rn.r.problems.push_back(fmt::format("{}: {}/{} is not a regular file; left alone", dir, sub, shown(n)));
        continue;
      }
      std::string info = n.find(':') == std::string::npos ? "" : n.substr(n.find(':'));
      std::string fault = name_fault(n, in_cur);
      std::string base(base_of(n));
      if (fault.empty() && seen.count(base)) fault = "another message has the same base name";
      auto s = name_size(base, 'S');
      std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
      if (!fault.empty()) {
        std::string to = maildir::unique_name() + ",S=" + std::to_string(size);
        if (in_cur) to += ":2," + canonical_info(fault.starts_with("an info") ? "" : n);
        rn.rename(sub, n, sub, to, fault);
        seen.insert(std::string(base_of(to)));
        continue;
      }
      seen.insert(base);
      if (s && *s != size) {
        std::string to = with_size(base, size) + info;
        rn.rename(sub, n, sub, to, fmt::format("its S= said {} bytes, the file has {}", *s, size));
        base = base_of(to);
      }
      if (!in_cur && !info.empty()) {
        std::string now = s && *s != size ? with_size(base_of(n), size) + info : n;
        rn.rename("new", now, "cur", now, "a message with flags belongs in cur/");
      }
    }
  }
}

// dovecot-uidlist, under Dovecot's lock: renamed bases keep their UIDs,
// records without a file go, W= is made true.
void fix_uidlist(const std::string& dir, const std::map<std::string, std::string>& bases, const Options& o,
                 Report& r) {
  std::string path = dir + "/dovecot-uidlist";
  Dotlock lock(path);
  if (!lock.ok()) {
    r.problems.push_back(fmt::format("{}: cannot lock dovecot-uidlist: {}", dir, std::strerror(errno)));
    return;
  }
  auto text = read_regular_file(path, 256u << 20);
  if (!text) return;  // missing: the sync below makes it
  auto u = parse_uidlist(*text);
  if (!u) {
    r.changes.push_back(fmt::format("{}: dovecot-uidlist unreadable: set aside as dovecot-uidlist.broken; "
                                    "the folder gets a new UIDVALIDITY",
                                    dir));
    if (!o.dry_run) ::rename(path.c_str(), (path + ".broken").c_str());
    return;
  }
  std::map<std::string, std::string> files;  // base -> path
  for (const char* sub : {"cur", "new"}) {
    std::vector<std::string> names;
    if (maildir::visible_names(dir + "/" + sub, names))
      for (auto& n : names) files.emplace(base_of(n), dir + "/" + sub + "/" + n);
  }
  std::size_t lines = 0;
  for (std::size_t i = text->find('\n'); i != std::string::npos && i + 1 < text->size(); i = text->find('\n', i + 1))
    if ((*text)[i + 1] != '\n') ++lines;
  bool changed = false;
  if (lines > u->recs.size() + (u->torn ? 1 : 0)) {
    r.changes.push_back(fmt::format("{}: dovecot-uidlist rewritten without {} line(s) that cannot be read", dir,
                                    lines - u->recs.size() - (u->torn ? 1 : 0)));
    changed = true;
  }
  std::vector<UidRecord> keep;
  for (auto& rec : u->recs) {
    if (auto it = bases.find(rec.base); it != bases.end()) rec.base = it->second, changed = true;
    auto f = files.find(rec.base);
    if (f == files.end()) {
      r.changes.push_back(fmt::format("{}: UID {} dropped from dovecot-uidlist ({}: no such message)", dir, rec.uid,
                                      shown(rec.base)));
      changed = true;
      continue;
    }
    auto w = record_number(rec, 'W');
    auto v = file_vsize(f->second);
    if (v && w && *w != *v) {
      r.changes.push_back(fmt::format("{}: UID {}: size W={} corrected to {}", dir, rec.uid, *w, *v));
      for (auto& e : rec.ext)
        if (!e.empty() && e[0] == 'W') e = "W" + std::to_string(*v);
      changed = true;
    }
    keep.push_back(std::move(rec));
  }
  // A torn last line or an old version is rewritten by the sync itself.
  if (!changed || o.dry_run) return;
  u->recs = std::move(keep);
  std::string out = uidlist_header(*u);
  for (auto& rec : u->recs) out += uidlist_record(rec);
  if (!write_file_atomic(path, out, 0600, true))
    r.problems.push_back(fmt::format("{}: cannot write dovecot-uidlist: {}", dir, std::strerror(errno)));
}

void fix_keywords(const std::string& dir, const Options& o, Report& r) {
  std::string path = dir + "/dovecot-keywords";
  auto text = read_regular_file(path, 65536);
  if (!text) return;
  std::string good = format_keywords(parse_keywords(*text));
  if (good == *text) return;
  r.changes.push_back(fmt::format("{}: dovecot-keywords rewritten without the lines that cannot be read", dir));
  if (o.dry_run) return;
  Dotlock lock(path, 30, 32);
  if (!lock.ok() || !write_file_atomic(path, good, 0600, true))
    r.problems.push_back(fmt::format("{}: cannot write dovecot-keywords: {}", dir, std::strerror(errno)));
}

}  // namespace

void repair_folder(const std::string& dir, bool is_root, const Options& o, Report& r) {
  make_dirs(dir, is_root, o, r);
  clean_tmp(dir, o, r);
  Renamer rn{dir, o, r, {}};
  fix_names(dir, rn);
  fix_uidlist(dir, rn.bases, o, r);
  fix_keywords(dir, o, r);
  if (o.dry_run) return;
  // UIDs for the messages that have none, by the rules imapd keeps.
  auto before = read_regular_file(dir + "/dovecot-uidlist", 256u << 20);
  std::size_t had = 0;
  std::uint32_t validity = 0;
  if (before)
    if (auto u = parse_uidlist(*before)) had = u->recs.size(), validity = u->validity;
  Folder f(dir);
  std::vector<Entry> entries;
  std::string err;
  if (!f.sync(entries, false, err)) {
    r.problems.push_back(fmt::format("{}: {}", dir, err));
    return;
  }
  if (!before && !entries.empty())
    r.changes.push_back(fmt::format("{}: made dovecot-uidlist: UIDVALIDITY {}, {} message(s)", dir, f.uidvalidity(),
                                    entries.size()));
  else if (before && f.uidvalidity() != validity)
    r.changes.push_back(fmt::format("{}: new UIDVALIDITY {}", dir, f.uidvalidity()));
  else if (entries.size() > had)
    r.changes.push_back(fmt::format("{}: UIDs given to {} message(s) that had none", dir, entries.size() - had));
}

}  // namespace reconstruct
