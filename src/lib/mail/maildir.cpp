// maildir: see maildir.hpp.
#include "mail/maildir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/unique.hpp"

namespace postern::maildir {

std::string unique_name() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::string host;
  for (char c : host_name()) {
    if (c == '/')
      host += "\\057";
    else if (c == ':')
      host += "\\072";
    else
      host += c;
  }
  return fmt::format("{}.M{}P{}R{}.{}", static_cast<long long>(ts.tv_sec), ts.tv_nsec / 1000,
                     static_cast<long>(::getpid()), random_hex(8), host);
}

Writer::Writer(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) dir_ = ".";
  if (dir_.back() != '/') dir_ += '/';
}

Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

bool Writer::fail(std::string what) {
  errno_ = errno;
  error_ = what + ": " + std::strerror(errno_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  errno = errno_;
  return false;
}

bool Writer::open() {
  struct stat st {};
  for (const char* sub : {"tmp", "new"}) {
    std::string d = dir_ + sub;
    if (::stat(d.c_str(), &st) != 0) return fail("no directory " + d);
    if (!S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return fail(d);
    }
  }
  // A collision needs the same microsecond, pid and 64 random bits; one
  // retry is for the impossible, the second for the truly impossible.
  for (int attempt = 0; attempt < 3; ++attempt) {
    name_ = unique_name();
    std::string tmp = dir_ + "tmp/" + name_;
    fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      tmp_ = tmp;
      size_ = 0;
      return true;
    }
    if (errno != EEXIST) return fail("unable to create " + tmp);
  }
  return fail("unable to create a unique file in " + dir_ + "tmp");
}

bool Writer::write(std::string_view bytes) {
  if (fd_ < 0) {
    errno = EBADF;
    return fail("write before open");
  }
  if (!write_all(fd_, bytes)) return fail("unable to write " + tmp_);
  size_ += bytes.size();
  return true;
}

bool Writer::copy_from(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("unable to read the message");
    }
    if (n == 0) return true;
    if (!write(std::string_view(buf, static_cast<std::size_t>(n)))) return false;
  }
}

bool Writer::commit(std::string_view info) {
  if (fd_ < 0) {
    errno = EBADF;
    return fail("commit before open");
  }
  if (::fsync(fd_) != 0) return fail("unable to sync " + tmp_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return fail("unable to close " + tmp_);  // NFS reports here

  std::string sub = info.empty() ? "new" : "cur";
  std::string target = fmt::format("{}{}/{},S={}", dir_, sub, name_, size_);
  if (!info.empty()) target += ":" + std::string(info);
  if (::link(tmp_.c_str(), target.c_str()) != 0) {
    // Some file systems have no hard links; rename is as atomic there.
    if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
      return fail("unable to link " + tmp_ + " to " + target);
    if (::rename(tmp_.c_str(), target.c_str()) != 0)
      return fail("unable to rename " + tmp_ + " to " + target);
  }
  ::unlink(tmp_.c_str());
  tmp_.clear();
  if (!fsync_dir(dir_ + sub)) {
    // Not durable: take it back rather than claim a delivery a crash
    // could undo. The retry delivers it again.
    int e = errno;
    ::unlink(target.c_str());
    errno = e;
    return fail("unable to sync " + dir_ + sub);
  }
  final_ = target;
  return true;
}

Result deliver(const std::string& dir, std::string_view prefix, int fd) {
  Writer w(dir);
  Result r;
  if (w.open() && w.write(prefix) && w.copy_from(fd) && w.commit()) {
    r.ok = true;
    r.text = w.path();
    r.size = w.size();
    return r;
  }
  r.error_number = w.error_number();
  r.text = w.error();
  return r;
}

bool create(const std::string& dir_in) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string tmp = dir + ".maildirmake-" + random_hex(8);
  auto undo = [&](int e) {
    for (const char* s : {"/cur", "/new", "/tmp"}) ::rmdir((tmp + s).c_str());
    ::rmdir(tmp.c_str());
    errno = e;
    return false;
  };
  if (::mkdir(tmp.c_str(), 0700) != 0) return false;
  for (const char* sub : {"/cur", "/new", "/tmp"})
    if (::mkdir((tmp + sub).c_str(), 0700) != 0) return undo(errno);
  if (::rename(tmp.c_str(), dir.c_str()) != 0) return undo(errno);
  return fsync_dir(dir_of(dir));
}

}  // namespace postern::maildir
