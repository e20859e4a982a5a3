// oplog: the numbered, append-only record of crashfs's operations (see
// oplog.hpp). Trusts nothing but its own file descriptor; returns the
// number of each operation it wrote.
#include "oplog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace crashfs {

std::string encode(std::string_view bytes) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c > ' ' && c < 0x7f && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (out.empty()) out.push_back('%');  // an empty field still takes its place
  return out;
}

OpLog::OpLog(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

std::uint64_t OpLog::append(const std::string& text) {
  ++count_;
  std::string line = std::to_string(count_) + " " + text + "\n";
  // One write a line, so a reader never sees half of one (the log lives on
  // an ordinary file system and the test reads it while we run).
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("crashfs: writing the log");
      std::exit(1);
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return count_;
}

}  // namespace crashfs
