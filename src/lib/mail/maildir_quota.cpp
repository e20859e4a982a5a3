// maildir_quota: Maildir++'s maildirsize (maildir_quota.hpp).
#include "mail/maildir_quota.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <vector>

#include "base/io.hpp"
#include "base/lock.hpp"
#include "mail/maildir.hpp"
#include "mail/maildir_list.hpp"

namespace postern::maildir_quota {

namespace {

constexpr std::size_t recalc_size = 5120;      // Maildir++: past this, recalculate
constexpr std::time_t recalc_over_age = 15 * 60;  // an "over quota" file this old too
constexpr std::int64_t most = std::int64_t{1} << 60;

bool number(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && out > -most && out < most;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool add_dir(const std::string& dir, Usage& u) {
  std::vector<std::string> names;
  if (!maildir::visible_names(dir, names)) return false;
  for (const auto& n : names) {
    u.bytes += static_cast<std::int64_t>(message_size(dir, n));
    ++u.messages;
  }
  return true;
}

std::string file_of(const std::string& root) { return root + "/maildirsize"; }

}  // namespace

std::string definition(const Limits& l) {
  std::string out;
  if (l.bytes) out = std::to_string(l.bytes) + "S";
  if (l.messages) out += (out.empty() ? "" : ",") + std::to_string(l.messages) + "C";
  return out;
}

std::optional<Limits> parse_definition(std::string_view line) {
  Limits l;
  while (!line.empty()) {
    auto comma = line.find(',');
    std::string_view item = line.substr(0, comma);
    line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
    if (item.size() < 2) return std::nullopt;
    std::int64_t n = 0;
    if (!number(item.substr(0, item.size() - 1), n) || n < 0) return std::nullopt;
    switch (item.back()) {
      case 'S': l.bytes = static_cast<std::uint64_t>(n); break;
      case 'C': l.messages = static_cast<std::uint64_t>(n); break;
      default: return std::nullopt;
    }
  }
  return l;
}

SizeFile parse_file(std::string_view text) {
  SizeFile f;
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) return f;
  auto limits = parse_definition(text.substr(0, nl));
  if (!limits) return f;
  f.limits = *limits;
  text.remove_prefix(nl + 1);
  while (!text.empty()) {
    nl = text.find('\n');
    if (nl == std::string_view::npos) return f;  // a half-written line
    auto w = words(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    std::int64_t b = 0, m = 0;
    if (w.size() != 2 || !number(w[0], b) || !number(w[1], m)) return f;
    f.usage.bytes += b;
    f.usage.messages += m;
    if (f.usage.bytes >= most || f.usage.messages >= most || f.usage.bytes <= -most || f.usage.messages <= -most)
      return f;
  }
  f.sound = f.usage.bytes >= 0 && f.usage.messages >= 0;
  return f;
}

std::uint64_t message_size(const std::string& dir, std::string_view name) {
  if (auto s = maildir::name_size(name.substr(0, name.find(':')), 'S')) return *s;
  struct stat st {};
  std::string path = dir + "/" + std::string(name);
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::optional<Usage> count(const std::string& root) {
  Usage u;
  if (!add_dir(root + "/cur", u)) return std::nullopt;
  add_dir(root + "/new", u);
  DIR* d = ::opendir(root.c_str());
  if (!d) return std::nullopt;
  std::vector<std::string> folders;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() > 1 && n[0] == '.' && n != "..") folders.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& f : folders) {
    struct stat st {};
    std::string dir = root + "/" + f;
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    Usage one = count_folder(dir);
    u.bytes += one.bytes;
    u.messages += one.messages;
  }
  return u;
}

Usage count_folder(const std::string& dir) {
  Usage u;
  add_dir(dir + "/cur", u);
  add_dir(dir + "/new", u);
  return u;
}

std::string root_of(const std::string& folder_dir) {
  std::string d = folder_dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  struct stat st {};
  if (::stat((d + "/maildirfolder").c_str(), &st) == 0) return dir_of(d);
  return d;
}

bool fits(const Limits& l, const Usage& u, std::uint64_t bytes, std::uint64_t messages) {
  if (l.bytes && static_cast<std::uint64_t>(std::max<std::int64_t>(u.bytes, 0)) + bytes > l.bytes) return false;
  if (l.messages && static_cast<std::uint64_t>(std::max<std::int64_t>(u.messages, 0)) + messages > l.messages)
    return false;
  return true;
}

bool recalculate(const std::string& root, const Limits& limits, Usage& usage, std::string& why) {
  auto u = count(root);
  if (!u) return why = "unable to read " + root + "/cur: " + std::strerror(errno), false;
  // Written in tmp/ and renamed: a reader sees the old file or the new one.
  std::string tmp = root + "/tmp/" + maildir::unique_name() + ".maildirsize";
  std::string text = definition(limits) + "\n" + std::to_string(u->bytes) + " " + std::to_string(u->messages) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return why = "unable to write " + tmp + ": " + std::strerror(errno), false;
  bool ok = write_all(fd, text);
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), file_of(root).c_str()) != 0) {
    why = "unable to write " + file_of(root) + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  usage = *u;
  return true;
}

std::optional<Usage> load(const std::string& root, const Limits& limits, std::string& why) {
  int fd = ::open(file_of(root).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    struct stat st {};
    std::optional<std::string> text;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= recalc_size)
      text = read_all(fd, recalc_size + 1);
    ::close(fd);
    if (text && text->size() <= recalc_size) {
      SizeFile f = parse_file(*text);
      bool stale_over = !fits(limits, f.usage, 0, 0) && std::time(nullptr) - st.st_mtime > recalc_over_age;
      if (f.sound && f.limits == limits && !stale_over) return f.usage;
    }
  }
  Usage u;
  if (!recalculate(root, limits, u, why)) return std::nullopt;
  return u;
}

void record(const std::string& root, std::int64_t bytes, std::int64_t messages) {
  if (bytes == 0 && messages == 0) return;
  int fd = ::open(file_of(root).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  write_all(fd, std::to_string(bytes) + " " + std::to_string(messages) + "\n");
  ::close(fd);
}

std::optional<Usage> add(const std::string& root, std::int64_t bytes, std::int64_t messages) {
  int fd = ::open(file_of(root).c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::optional<Usage> before;
  if (lock::fcntl_lock(fd, std::chrono::seconds(10)) == lock::Result::locked) {
    auto text = read_all(fd, recalc_size * 4);
    if (text) {
      SizeFile f = parse_file(*text);
      if (f.sound) before = f.usage;
    }
    write_all(fd, std::to_string(bytes) + " " + std::to_string(messages) + "\n");
    lock::fcntl_unlock(fd);
  }
  ::close(fd);
  return before;
}

}  // namespace postern::maildir_quota
