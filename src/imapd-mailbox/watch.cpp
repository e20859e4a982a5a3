// watch: see watch.hpp.
#include "watch.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifdef __linux__
#include <sys/inotify.h>
#endif

namespace imapd {

Watch::Watch() {
#ifdef __linux__
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
#endif
}

Watch::~Watch() {
  if (fd_ >= 0) ::close(fd_);
}

int Watch::add(const std::string& dir) {
#ifdef __linux__
  if (fd_ < 0) return -1;
  const std::uint32_t mask =
      IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  return ::inotify_add_watch(fd_, dir.c_str(), mask);
#else
  (void)dir;
  errno = ENOSYS;
  return -1;
#endif
}

void Watch::remove(int wd) {
#ifdef __linux__
  if (fd_ >= 0 && wd >= 0) ::inotify_rm_watch(fd_, wd);
#else
  (void)wd;
#endif
}

std::vector<Watch::Event> Watch::take(bool& overflow) {
  std::vector<Event> out;
  overflow = false;
#ifdef __linux__
  alignas(struct inotify_event) char buf[8192];
  // The kernel's queue is bounded (fs.inotify.max_queued_events), so is this.
  for (;;) {
    ssize_t n = fd_ >= 0 ? ::read(fd_, buf, sizeof buf) : -1;
    if (n <= 0) break;
    for (char* at = buf; at < buf + n;) {
      auto* e = reinterpret_cast<struct inotify_event*>(at);
      if (e->mask & IN_Q_OVERFLOW) overflow = true;
      else out.push_back({e->wd, e->mask, e->cookie, e->len ? std::string(e->name, ::strnlen(e->name, e->len)) : ""});
      at += sizeof(struct inotify_event) + e->len;
    }
  }
#endif
  return out;
}

Woke wait_for(postern::NetIO& io, int watch_fd, int seconds) {
  if (io.ready()) return Woke::input;
  int limit = io.wait_limit(seconds);
  struct pollfd p[2] = {{0, POLLIN, 0}, {watch_fd, POLLIN, 0}};
  int r = ::poll(p, watch_fd >= 0 ? 2 : 1, limit > 0 ? limit * 1000 : -1);
  if (r < 0) return errno == EINTR ? Woke::timeout : Woke::input;  // the read reports the error
  // The client first: a stream of deliveries, each a sync, cannot keep
  // DONE or a command unread; a hangup or an error is input too (the read
  // sees the end and the session ends). wait_for_command takes in what
  // changed once before the command, so changes are not starved either.
  if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) return Woke::input;
  if (r > 0 && watch_fd >= 0 && (p[1].revents & POLLIN)) return Woke::change;
  if (r > 0) return Woke::input;  // the watch's fd in error: the read tells what the client did
  // The wait was cut short by the session's deadline: the read says goodbye.
  return limit > 0 && limit < seconds ? Woke::input : Woke::timeout;
}

}  // namespace imapd
