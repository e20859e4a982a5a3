// imap_folders: the folder tree of a Maildir++ root (list, create, delete),
// the subscriptions file, and Dovecot's dovecot-uidvalidity counter at the
// root, which gives every new folder a UIDVALIDITY never used before there.
// See imap_store.hpp; runs as the mailbox's owner, trusts the caller for
// the root and checks names (valid_name) before they become paths.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "imap/imap_dotlock.hpp"
#include "imap/imap_files.hpp"
#include "imap/imap_message.hpp"
#include "imap/imap_store.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/unique.hpp"

namespace postern::imap {

bool is_inbox(std::string_view name) { return iequal(name, "INBOX"); }

bool valid_name(std::string_view name) {
  if (is_inbox(name)) return true;
  if (name.empty() || name.size() > 200 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos || name.find('/') != std::string_view::npos) return false;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return utf7_valid(name);
}

std::string folder_dir(const std::string& root, std::string_view name) {
  if (is_inbox(name)) return root;
  return root + "/." + std::string(name);
}

std::vector<std::string> list_folders(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() < 2 || n[0] != '.' || n[1] == '.') continue;
    struct stat st {};
    if (::stat((root + "/" + std::string(n) + "/cur").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (!valid_name(n.substr(1))) continue;
    out.emplace_back(n.substr(1));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  out.insert(out.begin(), "INBOX");
  return out;
}

bool create_folder(const std::string& root, std::string_view name) {
  std::string dir = folder_dir(root, name);
  std::string tmp = root + "/..postern-new." + random_hex(8);
  if (::mkdir(tmp.c_str(), 0700) != 0) return false;
  for (const char* sub : {"/cur", "/new", "/tmp"}) ::mkdir((tmp + sub).c_str(), 0700);
  Fd mf(::open((tmp + "/maildirfolder").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  // rename fails with EEXIST/ENOTEMPTY when the folder is there already.
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    int e = errno;
    for (const char* sub : {"/cur", "/new", "/tmp", "/maildirfolder"}) {
      ::rmdir((tmp + sub).c_str());
      ::unlink((tmp + sub).c_str());
    }
    ::rmdir(tmp.c_str());
    errno = e == ENOTEMPTY ? EEXIST : e;
    return false;
  }
  fsync_dir(root);
  return true;
}

namespace {

bool remove_tree(const std::string& path, int depth) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  if (!S_ISDIR(st.st_mode)) return ::unlink(path.c_str()) == 0 || errno == ENOENT;
  if (depth > 3) return false;
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (auto& n : names) remove_tree(path + "/" + n, depth + 1);
  return ::rmdir(path.c_str()) == 0;
}

}  // namespace

bool delete_folder(const std::string& root, std::string_view name) {
  if (is_inbox(name)) {
    errno = EPERM;
    return false;
  }
  std::string dir = folder_dir(root, name);
  std::string gone = root + "/..postern-deleted." + random_hex(8);
  if (::rename(dir.c_str(), gone.c_str()) != 0) return false;
  fsync_dir(root);
  remove_tree(gone, 0);
  return true;
}


// -- subscriptions ------------------------------------------------------------

Subscriptions read_subscription_file(const std::string& root) {
  auto text = read_folder_file(root + "/subscriptions", 1 << 20);
  if (!text) return {};
  return parse_subscriptions(*text);
}

std::vector<std::string> read_subscriptions(const std::string& root) {
  return read_subscription_file(root).names;
}

bool write_subscriptions(const std::string& root, const std::vector<std::string>& names) {
  // Dovecot takes subscriptions.lock to rewrite the file; so do we, and we
  // keep the version the file had (a new file gets Dovecot 2.3's version 2).
  std::string path = root + "/subscriptions";
  Dotlock lock(path, 120, 30);
  if (!lock.ok()) return false;
  struct stat st {};
  Subscriptions s = read_subscription_file(root);
  if (::stat(path.c_str(), &st) != 0) s.version = 2;
  s.names = names;
  return write_file_atomic(path, format_subscriptions(s), 0600, true);
}

// -- dovecot-uidvalidity ---------------------------------------------------------

namespace {

std::optional<std::uint32_t> hex32(std::string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
}

std::uint32_t fallback_validity() {
  static std::uint32_t last = 0;
  auto now = static_cast<std::uint32_t>(std::time(nullptr));
  last = last < now ? now : last + 1;
  return last;
}

void write_validity(const std::string& path, std::uint32_t v) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.ok()) return;
  std::string text = fmt::format("{:08x}", v);
  if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    log::line("{}: cannot write: {}", path, std::strerror(errno));
}

// Renames path.<cur> to path.<cur+1> (trying later values on a race):
// the rename is the lock, as Dovecot does it.
std::optional<std::uint32_t> step(const std::string& path, std::uint32_t cur) {
  for (int i = 0; i < 10; ++i, ++cur) {
    std::string from = fmt::format("{}.{:08x}", path, cur), to = fmt::format("{}.{:08x}", path, cur + 1);
    if (::rename(from.c_str(), to.c_str()) == 0) return cur + 1;
    if (errno != ENOENT) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::uint32_t uidvalidity_next(const std::string& root) {
  std::string path = root + "/dovecot-uidvalidity";
  if (auto text = read_folder_file(path, 64)) {
    if (auto cur = hex32(std::string_view(*text).substr(0, 8))) {
      if (auto v = step(path, *cur)) {
        write_validity(path, *v);
        return *v;
      }
    }
  }
  // No counter, or it raced or lied: the highest path.<hex> file rules.
  DIR* d = ::opendir(root.c_str());
  if (!d) return fallback_validity();
  std::uint32_t max = 0, min = 0xffffffffu;
  std::string prefix = "dovecot-uidvalidity.";
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (!n.starts_with(prefix)) continue;
    if (auto v = hex32(n.substr(prefix.size()))) max = std::max(max, *v), min = std::min(min, *v);
  }
  ::closedir(d);
  if (max == 0) {
    std::uint32_t v = fallback_validity();
    for (int i = 0; i < 10; ++i, ++v) {
      Fd fd(::open(fmt::format("{}.{:08x}", path, v).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
      if (fd.ok()) break;
      if (errno != EEXIST) return v;
    }
    write_validity(path, v);
    return v;
  }
  if (min != max) ::unlink(fmt::format("{}.{:08x}", path, min).c_str());
  auto v = step(path, max);
  if (!v) return fallback_validity();
  write_validity(path, *v);
  return *v;
}

}  // namespace postern::imap
