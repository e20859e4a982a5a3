// io: see io.hpp.
#include "base/io.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace postern {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

Fd::~Fd() { reset(); }

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> read_all(int fd, std::size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return out;
    if (out.size() + static_cast<std::size_t>(n) > max) {
      errno = EFBIG;
      return std::nullopt;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> read_file(const std::string& path, std::size_t max) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return std::nullopt;
  return read_all(fd.get(), max);
}

std::optional<std::string> read_regular_file(const std::string& path, std::size_t max) {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of
  // waiting for one; the fstat then refuses it.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.ok()) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) {
    errno = EINVAL;
    return std::nullopt;
  }
  return read_all(fd.get(), max);
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return false;
  return ::fsync(fd.get()) == 0;
}

bool write_file_atomic(const std::string& path, std::string_view data, int mode, bool durable) {
  // The temporary name must be new: a symlink planted under it is not
  // followed, and a file left by an earlier crash of a process with this
  // pid (perhaps with looser permissions) is removed, never reused.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd;
  for (int tries = 0; tries < 3 && !fd.ok(); ++tries) {
    fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.ok() && (errno != EEXIST || (::unlink(tmp.c_str()) != 0 && errno != ENOENT))) return false;
  }
  if (!fd.ok()) {
    errno = EEXIST;
    return false;
  }
  if (!write_all(fd.get(), data) || (durable && ::fsync(fd.get()) != 0)) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    return false;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    return false;
  }
  return !durable || fsync_dir(dir_of(path));
}

bool read_append(int fd, std::string& buf, bool& eof) {
  char tmp[16384];
  for (;;) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) eof = true;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
}

bool LineReader::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    scanned_ = pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    scanned_ -= std::min(scanned_, pos_);
    pos_ = 0;
  }
  return read_append(fd_, buf_, eof_);
}

LineReader::Result LineReader::next(std::string& line) {
  line.clear();
  for (;;) {
    // Only bytes not searched before are searched: a long line costs
    // linear time, not quadratic.
    std::size_t nl = buf_.find('\n', std::max(pos_, scanned_));
    scanned_ = nl == std::string::npos ? buf_.size() : nl + 1;
    if (nl != std::string::npos) {
      if (nl + 1 - pos_ > max_) {
        pos_ = nl + 1;
        return Result::too_long;
      }
      line.assign(buf_, pos_, nl + 1 - pos_);
      pos_ = nl + 1;
      return Result::line;
    }
    if (buf_.size() - pos_ > max_) {
      // Too long already: discard through the end of this line.
      for (;;) {
        buf_.clear();
        scanned_ = pos_ = 0;
        if (eof_) return Result::too_long;
        if (!fill()) return Result::error;
        std::size_t e = buf_.find('\n');
        if (e != std::string::npos) {
          pos_ = e + 1;
          return Result::too_long;
        }
      }
    }
    if (eof_) {
      if (pos_ == buf_.size()) return Result::eof;
      line.assign(buf_, pos_, std::string::npos);
      pos_ = buf_.size();
      return Result::line;
    }
    if (!fill()) return Result::error;
  }
}

}  // namespace postern
