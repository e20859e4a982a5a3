// imap_store: see imap_store.hpp.
#include "imap/imap_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "imap/imap_message.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/maildir_list.hpp"
#include "base/unique.hpp"

namespace postern::imap {

namespace {

const char* const uidlist_name = "postern-uidlist";
const char* const keywords_name = "dovecot-keywords";


std::optional<std::uint64_t> count_vsize(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.ok()) return std::nullopt;
  std::uint64_t n = 0;
  char buf[65536];
  char prev = 0;
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::nullopt;
    if (r == 0) break;
    for (ssize_t i = 0; i < r; ++i) {
      if (buf[i] == '\n' && prev != '\r') ++n;
      prev = buf[i];
    }
    n += static_cast<std::uint64_t>(r);
  }
  return n;
}

std::uint64_t leading_number(std::string_view s) {
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > (1ULL << 50)) break;
  }
  return n;
}

}  // namespace

std::string_view base_of(std::string_view name) {
  auto c = name.find(':');
  return c == std::string_view::npos ? name : name.substr(0, c);
}

Flags flags_of(std::string_view name) {
  Flags f;
  auto c = name.find(":2,");
  if (c == std::string_view::npos) return f;
  for (char ch : name.substr(c + 3)) {
    switch (ch) {
      case 'S': f.sys |= f_seen; break;
      case 'R': f.sys |= f_answered; break;
      case 'F': f.sys |= f_flagged; break;
      case 'T': f.sys |= f_deleted; break;
      case 'D': f.sys |= f_draft; break;
      default:
        if (ch >= 'a' && ch <= 'z') f.kw |= 1u << (ch - 'a');
        else if (ch >= 'A' && ch <= 'Z' && f.other.find(ch) == std::string::npos) f.other += ch;
    }
  }
  return f;
}

std::string name_with(std::string_view base, const Flags& f) {
  std::string letters = f.other;
  if (f.sys & f_draft) letters += 'D';
  if (f.sys & f_flagged) letters += 'F';
  if (f.sys & f_answered) letters += 'R';
  if (f.sys & f_seen) letters += 'S';
  if (f.sys & f_deleted) letters += 'T';
  std::sort(letters.begin(), letters.end());
  for (int i = 0; i < 26; ++i)
    if (f.kw & (1u << i)) letters += static_cast<char>('a' + i);
  return std::string(base) + ":2," + letters;
}

std::optional<std::uint64_t> name_size(std::string_view base, char which) {
  std::string key = std::string(",") + which + "=";
  auto p = base.find(key);
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view v = base.substr(p + 3);
  if (v.empty() || v[0] < '0' || v[0] > '9') return std::nullopt;
  return leading_number(v);
}

FolderLock::FolderLock(const std::string& dir) {
  fd_ = ::open((dir + "/postern-uidlist.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return;
  for (int i = 0; i < 3000; ++i) {  // at most 30 seconds
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (errno != EWOULDBLOCK && errno != EINTR) break;
    ::usleep(10000);
  }
  ::close(fd_);
  fd_ = -1;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

bool Folder::sync(std::vector<Entry>& out, bool claim_recent, std::string& err) {
  FolderLock lock(dir_);
  if (!lock.ok()) {
    err = "cannot lock " + dir_ + ": " + std::strerror(errno);
    return false;
  }
  std::string path = dir_ + "/" + uidlist_name;
  struct Listed {
    std::uint32_t uid;
    std::uint64_t vsize;
    std::string base;
  };
  std::vector<Listed> listed;
  bool fresh = true, dirty = false;
  validity_ = 0;
  next_ = 1;
  recent_from_ = 1;
  if (auto text = read_file(path, 64 << 20)) {
    std::string_view t = *text;
    std::size_t nl = t.find('\n');
    std::string_view head = t.substr(0, nl);
    if (head.starts_with("3 ")) {
      fresh = false;
      std::size_t i = 2;
      while (i < head.size()) {
        std::size_t sp = head.find(' ', i);
        std::string_view tok = head.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i);
        if (tok.size() > 1) {
          auto v = static_cast<std::uint32_t>(leading_number(tok.substr(1)));
          if (tok[0] == 'V') validity_ = v;
          else if (tok[0] == 'N') next_ = v;
          else if (tok[0] == 'R') recent_from_ = v;
        }
        if (sp == std::string_view::npos) break;
        i = sp + 1;
      }
      std::size_t pos = nl == std::string_view::npos ? t.size() : nl + 1;
      while (pos < t.size()) {
        std::size_t e = t.find('\n', pos);
        if (e == std::string_view::npos) break;  // a torn last line: never written by us
        std::string_view line = t.substr(pos, e - pos);
        pos = e + 1;
        auto colon = line.find(" :");
        if (colon == std::string_view::npos) continue;
        Listed l{static_cast<std::uint32_t>(leading_number(line)), 0, std::string(line.substr(colon + 2))};
        auto w = line.find(" W");
        if (w != std::string_view::npos && w < colon) l.vsize = leading_number(line.substr(w + 2));
        if (l.uid == 0 || l.uid >= next_ || (!listed.empty() && l.uid <= listed.back().uid)) continue;
        listed.push_back(std::move(l));
      }
    }
    if (fresh) log::line("{}: unreadable {}; starting a new UIDVALIDITY", dir_, uidlist_name);
  } else if (errno != ENOENT) {
    err = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  if (validity_ == 0) {
    validity_ = static_cast<std::uint32_t>(std::time(nullptr));
    next_ = 1;
    recent_from_ = 1;
    listed.clear();
    dirty = true;
  }
  if (maildir::move_new_to_cur(dir_) < 0) {
    err = "cannot read " + dir_ + "/new: " + std::strerror(errno);
    return false;
  }
  std::vector<std::string> files;
  if (!maildir::visible_names(dir_ + "/cur", files)) {
    err = "cannot read " + dir_ + "/cur: " + std::strerror(errno);
    return false;
  }
  std::unordered_map<std::string, std::string> by_base;
  by_base.reserve(files.size() * 2);
  for (auto& f : files) by_base.emplace(std::string(base_of(f)), f);
  out.clear();
  out.reserve(files.size());
  for (auto& l : listed) {
    auto it = by_base.find(l.base);
    if (it == by_base.end()) {
      dirty = true;
      continue;
    }
    Entry e{l.uid, it->second, l.vsize};
    if (e.vsize == 0) {
      auto w = name_size(l.base, 'W');
      auto v = w ? w : count_vsize(dir_ + "/cur/" + it->second);
      if (v) e.vsize = *v, dirty = true;
    }
    out.push_back(std::move(e));
    by_base.erase(it);
  }
  if (!by_base.empty()) {
    std::vector<std::string> fresh_names;
    for (auto& [b, n] : by_base) fresh_names.push_back(n);
    std::sort(fresh_names.begin(), fresh_names.end(), [](const std::string& a, const std::string& b) {
      auto na = leading_number(a), nb = leading_number(b);
      return na != nb ? na < nb : a < b;
    });
    for (auto& n : fresh_names) {
      auto w = name_size(base_of(n), 'W');
      auto v = w ? w : count_vsize(dir_ + "/cur/" + n);
      if (!v) continue;  // gone again
      out.push_back(Entry{next_++, n, *v});
    }
    dirty = true;
  }
  std::uint32_t claimed_from = recent_from_;
  if (claim_recent && recent_from_ != next_) {
    recent_from_ = next_;
    dirty = true;
  }
  if (dirty) {
    std::string text = fmt::format("3 V{} N{} R{}\n", validity_, next_, recent_from_);
    text.reserve(out.size() * 60 + 40);
    for (auto& e : out) {
      text += fmt::format("{} W{} :", e.uid, e.vsize);
      text += base_of(e.name);
      text += '\n';
    }
    if (!write_file_atomic(path, text, 0600, true)) {
      err = "cannot write " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  recent_from_ = claim_recent ? claimed_from : next_;
  return true;
}

std::vector<std::string> Folder::keywords() {
  std::vector<std::string> out;
  auto text = read_file(dir_ + "/" + keywords_name, 65536);
  if (!text) return out;
  std::string_view t = *text;
  std::size_t pos = 0;
  while (pos < t.size()) {
    std::size_t e = t.find('\n', pos);
    if (e == std::string_view::npos) e = t.size();
    std::string_view line = t.substr(pos, e - pos);
    pos = e + 1;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) continue;
    auto idx = leading_number(line);
    if (idx >= 26) continue;
    if (out.size() <= idx) out.resize(idx + 1);
    out[idx] = std::string(line.substr(sp + 1));
  }
  return out;
}

int Folder::keyword(const std::string& name, bool create) {
  auto find = [&](const std::vector<std::string>& kws) {
    for (std::size_t i = 0; i < kws.size(); ++i)
      if (iequal(kws[i], name)) return static_cast<int>(i);
    return -1;
  };
  int i = find(keywords());
  if (i >= 0 || !create) return i;
  FolderLock lock(dir_);
  if (!lock.ok()) return -1;
  auto kws = keywords();
  i = find(kws);
  if (i >= 0) return i;
  std::size_t slot = 0;
  while (slot < kws.size() && !kws[slot].empty()) ++slot;
  if (slot >= 26) return -1;
  if (slot == kws.size()) kws.emplace_back();
  kws[slot] = name;
  std::string text;
  for (std::size_t k = 0; k < kws.size(); ++k)
    if (!kws[k].empty()) text += fmt::format("{} {}\n", k, kws[k]);
  if (!write_file_atomic(dir_ + "/" + keywords_name, text, 0600, true)) return -1;
  return static_cast<int>(slot);
}

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

std::vector<std::string> read_subscriptions(const std::string& root) {
  std::vector<std::string> out;
  auto text = read_file(root + "/subscriptions", 1 << 20);
  if (!text) return out;
  std::size_t pos = 0;
  while (pos < text->size()) {
    std::size_t e = text->find('\n', pos);
    if (e == std::string::npos) e = text->size();
    std::string line = text->substr(pos, e - pos);
    pos = e + 1;
    if (!line.empty() && std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
  }
  return out;
}

bool write_subscriptions(const std::string& root, const std::vector<std::string>& names) {
  std::string text;
  for (auto& n : names) text += n + "\n";
  return write_file_atomic(root + "/subscriptions", text, 0600, true);
}

}  // namespace postern::imap
