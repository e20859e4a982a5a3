// lock: see lock.hpp.
#include "base/lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <thread>

namespace postern::lock {

namespace {

void on_alarm(int) {}  // only there to interrupt F_SETLKW

}  // namespace

Result fcntl_lock(int fd, std::chrono::seconds timeout) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &fl) == 0) return Result::locked;
  if (errno != EACCES && errno != EAGAIN) return Result::error;

  // A holder: wait in F_SETLKW. A one-shot alarm could fire just before
  // fcntl() is entered and leave us blocked for good, so the timer repeats
  // every second and the deadline is checked after each interruption.
  struct sigaction sa {}, old_sa {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: fcntl must return EINTR
  if (::sigaction(SIGALRM, &sa, &old_sa) != 0) return Result::error;
  struct itimerval tick {}, old_timer {};
  tick.it_value.tv_sec = 1;
  tick.it_interval.tv_sec = 1;
  ::setitimer(ITIMER_REAL, &tick, &old_timer);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  Result result = Result::error;
  int saved = 0;
  for (;;) {
    if (::fcntl(fd, F_SETLKW, &fl) == 0) {
      result = Result::locked;
      break;
    }
    if (errno != EINTR) {
      saved = errno;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      result = Result::timeout;
      break;
    }
  }
  ::setitimer(ITIMER_REAL, &old_timer, nullptr);
  ::sigaction(SIGALRM, &old_sa, nullptr);
  errno = saved;
  return result;
}

void fcntl_unlock(int fd) {
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  ::fcntl(fd, F_SETLK, &fl);
}

Result DotLock::acquire(const std::string& path, std::chrono::seconds timeout,
                        std::chrono::seconds stale) {
  release();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      ::close(fd);
      path_ = path;
      return Result::locked;
    }
    if (errno == EACCES || errno == EPERM || errno == EROFS) return Result::denied;
    if (errno != EEXIST && errno != EINTR) return Result::error;

    // Stale if untouched for `stale`. Between our stat and unlink another
    // process may remove it and lock again; re-checking the inode just
    // before unlink narrows that window to what procmail also accepts.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && std::time(nullptr) - st.st_mtime > stale.count()) {
      struct stat again {};
      if (::lstat(path.c_str(), &again) != 0 ||
          (again.st_ino == st.st_ino && again.st_mtime == st.st_mtime &&
           ::unlink(path.c_str()) == 0))
        continue;
      // Not ours to remove (a sticky directory): wait like for a live lock.
    }
    if (std::chrono::steady_clock::now() >= deadline) return Result::timeout;
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::seconds(1)) pause *= 2;
  }
}

void DotLock::release() {
  if (path_.empty()) return;
  ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace postern::lock
