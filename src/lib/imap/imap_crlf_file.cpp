// imap_crlf_file: see imap_crlf_file.hpp.
#include "imap/imap_crlf_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace postern::imap {

CrlfFile::~CrlfFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool CrlfFile::scan(const std::function<bool(std::string_view)>& each) {
  if (::lseek(fd_, 0, SEEK_SET) != 0) return false;
  char in[65536 / 2];
  std::string out;
  out.reserve(sizeof in * 2);
  char prev = 0;
  for (;;) {
    ssize_t r = ::read(fd_, in, sizeof in);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) return true;
    out.clear();
    for (ssize_t i = 0; i < r; ++i) {
      if (in[i] == '\n' && prev != '\r') out += '\r';
      out += in[i];
      prev = in[i];
    }
    if (!each(out)) return true;
  }
}

bool CrlfFile::open(const std::string& path) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd_ < 0) return false;
  size_ = header_ = 0;
  bool found = false;
  char last[3] = {0, 0, 0};  // the three bytes before the block
  bool ok = scan([&](std::string_view b) {
    for (std::size_t i = 0; i < b.size() && !found; ++i) {
      last[0] = last[1], last[1] = last[2], last[2] = b[i];
      std::uint64_t at = size_ + i + 1;  // bytes up to and with this one
      if ((at == 2 && last[1] == '\r' && last[2] == '\n') ||
          (at >= 3 && last[0] == '\n' && last[1] == '\r' && last[2] == '\n')) {
        header_ = at;
        found = true;
      }
    }
    size_ += b.size();
    return true;
  });
  if (!found) header_ = size_;
  return ok;
}

bool CrlfFile::copy(std::uint64_t from, std::uint64_t count, const std::function<bool(std::string_view)>& out) {
  if (fd_ < 0) return false;
  std::uint64_t pos = 0, end = from + std::min(count, size_ > from ? size_ - from : 0);
  if (end <= from) return true;
  bool more = true;
  bool ok = scan([&](std::string_view b) {
    std::uint64_t b_end = pos + b.size();
    if (b_end > from && pos < end) {
      std::uint64_t a = std::max(pos, from), z = std::min(b_end, end);
      more = out(b.substr(a - pos, z - a));
    }
    pos = b_end;
    return more && pos < end;
  });
  return ok;
}

}  // namespace postern::imap
