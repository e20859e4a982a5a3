// queue_dirs: see queue_dirs.hpp.
#include "mail/queue_dirs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <string_view>

namespace postern::queue_dirs {

void poke_send(char byte) {
  int fd = ::open(trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] auto n = ::write(fd, &byte, 1);
  ::close(fd);
}

namespace {

// In ASCII order, so that equal-width numbers sort as strings do.
constexpr std::string_view digits62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void append62(std::string& out, std::uint64_t n, std::size_t width) {
  std::string d;
  do {
    d += digits62[n % 62];
    n /= 62;
  } while (n > 0);
  while (d.size() < width) d += '0';
  out.append(d.rbegin(), d.rend());
}

}  // namespace

std::string make_id(std::int64_t seconds, long microseconds, std::uint64_t inode) {
  std::string id;
  // 62^6 seconds reach beyond the year 3000; 62^4 > 10^6 microseconds.
  append62(id, static_cast<std::uint64_t>(seconds < 0 ? 0 : seconds), 6);
  append62(id, static_cast<std::uint64_t>(microseconds < 0 ? 0 : microseconds % 1000000), 4);
  append62(id, inode, 1);
  return id;
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 40) return false;
  for (char c : id)
    if (digits62.find(c) == std::string_view::npos) return false;
  return true;
}

}  // namespace postern::queue_dirs
