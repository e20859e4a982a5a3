// netio: see netio.hpp.
#include "base/netio.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern {

bool wait_ready(int fd, short events, int timeout) {
  struct pollfd p {fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout > 0 ? timeout * 1000 : -1);
    if (r > 0) return true;
    if (r == 0) {
      errno = ETIMEDOUT;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

ssize_t FdTransport::read(char* buf, std::size_t n, int timeout) {
  if (!wait_ready(in_, POLLIN, timeout)) return -1;
  for (;;) {
    ssize_t r = ::read(in_, buf, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

ssize_t LineTransport::read(char* buf, std::size_t n, int timeout) {
  if (n == 0) return 0;
  if (!wait_ready(in_, POLLIN, timeout)) return -1;
  for (;;) {
    ssize_t r;
    if (socket_) {
      r = ::recv(in_, buf, n, MSG_PEEK);
      if (r < 0 && errno == ENOTSOCK) {
        socket_ = false;
        continue;
      }
      if (r > 0) {
        const void* nl = std::memchr(buf, '\n', static_cast<std::size_t>(r));
        std::size_t take = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - buf) + 1
                              : static_cast<std::size_t>(r);
        // The bytes were peeked: this recv finds them there and takes no more.
        r = ::recv(in_, buf, take, 0);
      }
    } else {
      r = ::read(in_, buf, 1);
    }
    if (r >= 0 || errno != EINTR) return r;
  }
}

bool FdTransport::write(std::string_view data, int timeout) {
  while (!data.empty()) {
    if (!wait_ready(out_, POLLOUT, timeout)) return false;
    ssize_t w = ::write(out_, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

bool NetIO::flush() {
  if (out_.empty()) return !failed_;
  if (!failed_ && !t_.write(out_, timeout_)) failed_ = true;
  out_.clear();
  return !failed_;
}

NetIO::Read NetIO::fill() {
  if (!flush()) return Read::error;
  if (eof_) return Read::eof;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[16384];
  ssize_t n = t_.read(tmp, sizeof tmp, timeout_);
  if (n < 0) return errno == ETIMEDOUT ? Read::timeout : Read::error;
  if (n == 0) {
    eof_ = true;
    return Read::eof;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return Read::line;
}

NetIO::Read NetIO::line(std::string& out, std::size_t max) {
  out.clear();
  if (max == 0) max = 1;
  std::size_t searched = pos_;
  for (;;) {
    std::size_t nl = buf_.find('\n', searched);
    if (nl != std::string::npos && nl + 1 - pos_ <= max) {
      out.assign(buf_, pos_, nl + 1 - pos_);
      pos_ = nl + 1;
      return Read::line;
    }
    if (buf_.size() - pos_ >= max) {
      out.assign(buf_, pos_, max);
      pos_ += max;
      return Read::partial;
    }
    std::size_t before = pos_;
    searched = buf_.size();
    Read r = fill();
    searched -= before - pos_;  // fill() may have moved the buffer
    if (r == Read::eof) {
      if (pos_ == buf_.size()) return Read::eof;
      out.assign(buf_, pos_, std::string::npos);
      pos_ = buf_.size();
      return Read::partial;
    }
    if (r != Read::line) return r;
  }
}

NetIO::Read NetIO::some(std::string& out, std::size_t max) {
  out.clear();
  if (pos_ == buf_.size()) {
    Read r = fill();
    if (r != Read::line) return r;
  }
  std::size_t n = std::min(max, buf_.size() - pos_);
  out.assign(buf_, pos_, n);
  pos_ += n;
  return Read::line;
}

}  // namespace postern
