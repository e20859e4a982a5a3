// maildir_list: see maildir_list.hpp.
#include "mail/maildir_list.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/io.hpp"
#include "mail/crlf_size.hpp"

namespace postern::maildir {

int move_new_to_cur(const std::string& dir) {
  std::vector<std::string> list;
  if (!visible_names(dir + "/new", list)) return -1;
  int moved = 0;
  for (const auto& n : list) {
    if (n.find(':') != std::string::npos) continue;  // not a Maildir name
    std::string to = dir + "/cur/" + n + ":2,";
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) continue;
    if (::rename((dir + "/new/" + n).c_str(), to.c_str()) == 0) ++moved;
  }
  return moved;
}

bool list_cur(const std::string& dir, std::vector<Message>& out) {
  std::vector<std::string> list;
  if (!visible_names(dir + "/cur", list)) return false;
  out.clear();
  for (auto& n : list) {
    Fd fd(::open((dir + "/cur/" + n).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.ok()) continue;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    CrlfSize size;
    char buf[65536];
    bool bad = false;
    for (;;) {
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) bad = true;
      if (r <= 0) break;
      size.feed(std::string_view(buf, static_cast<std::size_t>(r)));
    }
    if (bad) continue;
    Message m;
    m.name = n;
    m.size = size.size();
    m.mtime = st.st_mtime;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });
  return true;
}

std::string with_flag(const std::string& name, char flag) {
  std::size_t colon = name.find(':');
  if (colon == std::string::npos) return name + ":2," + flag;
  std::string info = name.substr(colon + 1);
  if (info.rfind("2,", 0) != 0) return name;  // an info we do not know
  std::string flags = info.substr(2);
  if (flags.find(flag) != std::string::npos) return name;
  flags += flag;
  std::sort(flags.begin(), flags.end());
  return name.substr(0, colon) + ":2," + flags;
}

bool visible_names(const std::string& dir, std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  errno = 0;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  errno = err;
  return err == 0;
}

std::optional<std::uint64_t> name_size(std::string_view base, char which) {
  const char key[] = {',', which, '=', 0};
  auto p = base.find(key);
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view v = base.substr(p + 3);
  if (v.empty() || v[0] < '0' || v[0] > '9') return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') break;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > (1ULL << 50)) break;
  }
  return n;
}

}  // namespace postern::maildir
