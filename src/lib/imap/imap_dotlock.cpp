// imap_dotlock: see imap_dotlock.hpp.
#include "imap/imap_dotlock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <optional>

#include "base/io.hpp"

namespace postern::imap {

namespace {

struct Seen {
  bool exists = false;
  ino_t ino = 0;
  off_t size = 0;
  std::time_t mtime = 0, ctime = 0;
  bool operator==(const Seen&) const = default;
};

Seen look(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return Seen{true, st.st_ino, st.st_size, st.st_mtime, st.st_ctime};
}

// The pid of a lock made on this host, if the file says so.
std::optional<pid_t> local_pid(const std::string& lock) {
  auto text = read_regular_file(lock, 512);
  if (!text) return std::nullopt;
  std::string t = *text;
  if (!t.empty() && t.back() == '\n') t.pop_back();
  auto colon = t.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 10 || t.substr(colon + 1) != lock_hostname())
    return std::nullopt;
  long pid = 0;
  for (std::size_t i = 0; i < colon; ++i) {
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
    pid = pid * 10 + (t[i] - '0');
  }
  if (pid <= 0 || pid > INT_MAX) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace

const std::string& lock_hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return std::string("localhost");
    return std::string(buf);
  }();
  return name;
}

Dotlock::Dotlock(std::string file, int stale_seconds, int wait_seconds)
    : file_(std::move(file)), lock_(file_ + ".lock") {
  std::time_t start = std::time(nullptr);
  std::time_t last_change = 0;
  Seen lock_seen, file_seen;
  bool first = true;
  unsigned sleep_us = 1000;
  for (;;) {
    int fd = ::open(lock_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      std::string me = std::to_string(::getpid()) + ":" + lock_hostname();
      if (!write_all(fd, me)) (void)::ftruncate(fd, 0);
      struct stat st {};
      ::fstat(fd, &st);
      dev_ = st.st_dev;
      ino_ = st.st_ino;
      ::close(fd);
      held_ = true;
      return;
    }
    if (errno != EEXIST) return;
    std::time_t now = std::time(nullptr);
    Seen l = look(lock_);
    if (l.exists) {
      if (first || !(l == lock_seen)) {
        // The first sight counts from the lock's own age, as Dovecot does.
        std::time_t t = first ? (l.mtime <= now ? l.mtime : now) : now;
        if (t > last_change) last_change = t;
        lock_seen = l;
      }
      first = false;
      // A lock older than two seconds names its process: gone means stale.
      if (l.mtime < now - 2) {
        auto pid = local_pid(lock_);
        if (pid && *pid != ::getpid() && ::kill(*pid, 0) != 0 && errno == ESRCH && look(lock_) == l) {
          ::unlink(lock_.c_str());
          continue;
        }
        if (pid && *pid == ::getpid() && look(lock_) == l) {  // ours from before a crash of this pid
          ::unlink(lock_.c_str());
          continue;
        }
      }
      if (now > last_change + stale_seconds) {
        Seen f = look(file_);
        if (!(f == file_seen)) {
          file_seen = f;
          last_change = now;
        }
      }
      // A lock that names a live process on this host is never taken over,
      // however old (as Dovecot's dotlock): its holder may still write.
      auto holder = local_pid(lock_);
      bool alive = holder && *holder != ::getpid() && (::kill(*holder, 0) == 0 || errno != ESRCH);
      if (!alive && now > last_change + stale_seconds && look(lock_) == l) {
        ::unlink(lock_.c_str());
        continue;
      }
    }
    if (now - start >= wait_seconds) {
      errno = EAGAIN;
      return;
    }
    ::usleep(sleep_us);
    if (sleep_us < 100000) sleep_us += sleep_us / 2;
  }
}

void Dotlock::release() {
  if (!held_) return;
  held_ = false;
  struct stat st {};
  // Someone who judged us stale may have taken it over: leave theirs.
  if (::lstat(lock_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(lock_.c_str());
}

Dotlock::~Dotlock() { release(); }

}  // namespace postern::imap
