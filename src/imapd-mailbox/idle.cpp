// imapd-mailbox: IDLE (RFC 2177). Waits for the client's DONE and
// meanwhile tells of changes to the selected folder as they happen, and,
// after a NOTIFY SET, of what NOTIFY asks for in other folders (RFC 5465
// section 4). The kernel (inotify, watch.hpp) wakes the session when a
// file appears in, leaves or is renamed in the folder's new/ or cur/ (a
// delivery, another session's flag change or expunge), so a change shows
// at once and a quiet folder costs nothing; a look every idle_check
// seconds still catches what inotify cannot see (NFS). Without inotify
// the session looks every poll_check seconds. The wait ends at the
// session's deadline and after idle_timeout seconds of silence. Trusts
// nothing from the client but the word DONE; returns the tagged answer.
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"
#include "session.hpp"
#include "watch.hpp"

namespace imapd {

void Session::cmd_idle(Cmd& c) {
  const std::string& tag = c.tag;
  bool by_notify = notify_follow_selection(true);
  // Watching first, then the sync: a delivery between the two still wakes us.
  std::unique_ptr<Watch> own;
  auto watch_own = [&] {
    if (!sel_) return;
    own = std::make_unique<Watch>();
    const std::string& dir = sel_->folder->dir();
    if (own->add(dir + "/new") < 0 || own->add(dir + "/cur") < 0) own.reset();
    if (!own) log::line("{}: IDLE without inotify; checking every {} seconds", who_, poll_check);
  };
  if (!by_notify) watch_own();
  io_.put("+ idling\r\n");
  if (sel_) update(true);
  io_.flush();
  std::time_t start = std::time(nullptr);
  std::time_t last_check = start;
  std::string line;
  for (;;) {
    if (by_notify) {
      notify_deliver();
      io_.flush();
      // NOTIFY may have ended meanwhile (NOTIFICATIONOVERFLOW): IDLE's own
      // watch from here on, and a sync for what came before it.
      if (!notify_follow_selection(true)) {
        by_notify = false;
        watch_own();
        if (sel_) update(true);
        io_.flush();
      }
    }
    int every = by_notify ? notify_interval() : !sel_ ? idle_timeout : own ? idle_check : poll_check;
    std::time_t now = std::time(nullptr);
    long wait = std::min<long>(last_check + every - now, start + idle_timeout - now);
    Woke w = wait_for(io_, by_notify ? notify_fd() : own ? own->fd() : -1, static_cast<int>(std::max<long>(wait, 1)));
    if (w == Woke::input) {
      auto r = io_.line(line, 1024);
      if (r == NetIO::Read::line || r == NetIO::Read::partial) {
        if (by_notify) notify_follow_selection(false);
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
    now = std::time(nullptr);
    if (now - start >= idle_timeout) bye("Autologout; idle for too long", "IDLE timed out");
    bool look = now - last_check >= every;
    if (look) last_check = now;
    if (by_notify) {
      if (w == Woke::change || look) notify_collect(look);
      continue;
    }
    if (!sel_) continue;
    if (w == Woke::change) {
      bool overflow;
      own->take(overflow);  // before the sync: a change after it wakes us again
    }
    if (w == Woke::change || (look && changed())) {
      update(true);
      io_.flush();
    }
  }
}

}  // namespace imapd
