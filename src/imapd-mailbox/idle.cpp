// imapd-mailbox: IDLE (RFC 2177). Waits for the client's DONE and
// meanwhile tells of changes to the selected folder as they happen. On
// Linux the kernel (inotify) wakes the session when a file appears in,
// leaves or is renamed in the folder's new/ or cur/ (a delivery, another
// session's flag change or expunge), so a change shows at once and a quiet
// folder costs nothing; a check every idle_check seconds still catches
// what inotify cannot see (a Maildir on NFS changed by another host).
// Without inotify (another system, or the user's watch limit reached) the
// session looks every poll_check seconds. Trusts nothing from the client
// but the word DONE; returns the tagged answer.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"
#include "session.hpp"

namespace imapd {

namespace {

constexpr int autologout = 30 * 60;  // seconds, as in session.cpp
constexpr int idle_check = 30;       // seconds between checks with inotify (Dovecot's default)
constexpr int poll_check = 2;        // seconds between checks without it

// The kernel's word that a folder's new/ or cur/ changed; fd() is -1 when
// there is no such word to be had.
class Watch {
 public:
  explicit Watch(const std::string& dir) {
#ifdef __linux__
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return;
    const std::uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;
    for (const char* sub : {"/new", "/cur"}) {
      if (::inotify_add_watch(fd_, (dir + sub).c_str(), mask) < 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
#else
    (void)dir;
#endif
  }
  ~Watch() {
    if (fd_ >= 0) ::close(fd_);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  int fd() const { return fd_; }
  // Reads every event queued so far: what they say is found by the sync
  // that follows, so only their arrival matters.
  void drain() {
    char buf[8192];
    while (fd_ >= 0 && ::read(fd_, buf, sizeof buf) > 0) {
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace

void Session::cmd_idle(Cmd& c) {
  const std::string& tag = c.tag;
  // Watching first, then the sync: a delivery between the two still wakes us.
  std::unique_ptr<Watch> watch;
  if (sel_) watch = std::make_unique<Watch>(sel_->folder->dir());
  int wfd = watch ? watch->fd() : -1;
  io_.put("+ idling\r\n");
  if (sel_) update(true);
  io_.flush();
  if (sel_ && wfd < 0) log::line("{}: IDLE without inotify; checking every {} seconds", who_, poll_check);
  std::time_t start = std::time(nullptr);
  std::time_t last_check = start;
  std::string line;
  for (;;) {
    bool input = io_.buffered() > 0;
    bool event = false;
    if (!input) {
      int every = !sel_ ? autologout : wfd >= 0 ? idle_check : poll_check;
      std::time_t now = std::time(nullptr);
      long wait = std::max<long>(0, static_cast<long>(last_check + every - now));
      struct pollfd p[2] = {{0, POLLIN, 0}, {wfd, POLLIN, 0}};
      int r = ::poll(p, wfd >= 0 ? 2 : 1, static_cast<int>(wait * 1000));
      if (r < 0 && errno != EINTR) {
        log::line("{}: connection lost in IDLE", who_);
        std::_Exit(status::ok);
      }
      input = r > 0 && p[0].revents != 0;
      event = r > 0 && wfd >= 0 && (p[1].revents & POLLIN);
    }
    if (input) {
      auto r = io_.line(line, 1024);
      if (r == NetIO::Read::line || r == NetIO::Read::partial) {
        std::string_view l = line;
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
        if (r == NetIO::Read::line && iequal(l, "DONE")) return ok(tag, "IDLE terminated");
        // The rest of an over-long line is no command either.
        while (r == NetIO::Read::partial) r = io_.line(line, 1024);
        return bad(tag, "Expected DONE");
      }
      if (r != NetIO::Read::timeout) {
        log::line("{}: connection closed in IDLE", who_);
        std::_Exit(status::ok);
      }
    }
    std::time_t now = std::time(nullptr);
    if (now - start >= autologout) bye("Autologout; idle for too long", "IDLE timed out");
    if (!sel_) continue;
    if (event) watch->drain();  // before the sync: a change after it wakes us again
    if (event || now - last_check >= (wfd >= 0 ? idle_check : poll_check)) {
      last_check = now;
      if (event || changed()) {
        update(true);
        io_.flush();
      }
    }
  }
}

}  // namespace imapd
