// requests: the administrator's requests to send (queuectl's hold, release,
// requeue and delete, sendmail -qR/-qS/-qI), applied by send alone because
// send owns each message's state and knows which deliveries are in flight.
//
// A request file in queue/ctl is trusted by its owner only: root or the
// queue's user (the user running send, in single-user mode), a regular file
// with one link; anything else is removed unread and logged. Its answer,
// one line per message acted on, goes to queue/ctl/NAME.answer, then the
// request is removed: a crash in between applies it again, which changes
// nothing (every action is idempotent). Trigger lines (flushes) come from
// anyone and can only make mail due now.
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/queue_dirs.hpp"
#include "scheduler.hpp"

namespace postern::send {

namespace {

using queue_request::Action;

// Answers nobody collected (queuectl was interrupted) are removed after this.
constexpr std::time_t stale_answer = 3600;

bool trusted_owner(uid_t uid) {
  if (uid == 0) return true;
  if (conf::single_user) return uid == ::geteuid();
  static const uid_t queue_uid = [] {
    const passwd* pw = ::getpwnam(conf::user_queue);
    return pw ? pw->pw_uid : static_cast<uid_t>(-1);
  }();
  return uid == queue_uid;
}

}  // namespace

void Scheduler::act_on(Message& m, Action action, const std::string& by, std::string& answer) {
  std::time_t now = std::time(nullptr);
  std::string note;
  auto& st = m.state;
  switch (action) {
    case Action::hold:
      st.held_by = by;
      if (m.in_flight) note = fmt::format(" in_flight={}", m.in_flight);
      break;
    case Action::release:
    case Action::requeue:
      // Released mail is tried now, as Postfix's postsuper -H and -r do;
      // requeue also forgets the attempts, so the schedule starts afresh.
      st.held_by.clear();
      for (std::size_t i = 0; i < st.recipients.size(); ++i) {
        auto& r = st.recipients[i];
        if (r.state != 'P' || m.busy[i]) continue;
        r.next_try = now;
        if (action == Action::requeue) {
          r.attempts = 0;
          r.reason.clear();
        }
      }
      break;
    case Action::remove:
      m.state.deleted_by = by;
      // What is in flight is dropped when it reports (apply()); a delivery
      // that succeeded stays delivered. No bounce is sent for any of it.
      for (std::size_t i = 0; i < st.recipients.size(); ++i) {
        auto& r = st.recipients[i];
        if (m.busy[i] || (r.state != 'P' && r.state != 'B')) continue;
        r.state = 'X';
        r.reason = "deleted by " + by;
      }
      if (m.in_flight) note = fmt::format(" in_flight={} effective=when_reported", m.in_flight);
      break;
    case Action::flush:
      break;
  }
  m.next_settle = 0;
  m.first_pending = 0;
  touched(m);
  save(m, action != Action::flush);
  log::line("msg={} action={} by={}{}", m.id, queue_request::action_name(action), by, note);
  answer += fmt::format("msg={} action={}{}\n", m.id, queue_request::action_name(action), note);
}

std::string Scheduler::act(const queue_request::Request& req, const std::string& by) {
  scan_todo();  // a message queued a moment ago is named too
  std::string answer;
  unsigned count = 0;
  for (auto& [id, m] : messages_) {
    bool named = false;
    for (auto& sel : req.selectors) named |= queue_request::matches(sel, id, m.state);
    if (!named) continue;
    act_on(m, req.action, by, answer);
    ++count;
  }
  answer += fmt::format("done messages={}\n", count);
  return answer;
}

void Scheduler::take_requests() {
  const std::string dir = queue_dirs::ctl_dir();
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;  // an old queue without ctl/: nothing can be asked
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::time_t now = std::time(nullptr);
  for (auto& name : names) {
    std::string path = dir + "/" + name;
    if (name.ends_with(".answer")) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && st.st_mtime + stale_answer < now) ::unlink(path.c_str());
      continue;
    }
    if (!queue_dirs::valid_id(name)) continue;  // queuectl's file being written
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st {};
    if (!fd.ok() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        !trusted_owner(st.st_uid) || st.st_size > 64 * 1024) {
      log::line("action=refused request={} reason=\"not a request file of root or the queue's user\"", name);
      ::unlink(path.c_str());
      continue;
    }
    auto text = read_all(fd.get(), 64 * 1024);
    auto req = text ? queue_request::decode(*text) : std::nullopt;
    std::string by = fmt::format("uid{}", st.st_uid);
    std::string answer;
    if (!req || req->action == Action::flush) {
      log::line("action=refused request={} by={} reason=malformed", name, by);
      answer = "error malformed request\n";
    } else {
      answer = act(*req, by);
    }
    // Readable by the queue's group, so that posternq can collect it.
    if (!write_file_atomic(path + ".answer", answer, 0640, false))
      log::line("unable to answer request {}: {}", name, std::strerror(errno));
    ::unlink(path.c_str());
  }
}

void Scheduler::flush_matching(const queue_request::Selector& s) {
  std::time_t now = std::time(nullptr);
  for (auto& [id, m] : messages_) {
    if (m.state.held() || !queue_request::matches(s, id, m.state)) continue;
    unsigned due = 0;
    for (auto& r : m.state.recipients) {
      if (r.state != 'P' || !queue_request::names_recipient(s, r)) continue;
      if (r.next_try > now) r.next_try = now;
      ++due;
    }
    m.first_pending = 0;
    m.next_settle = 0;
    touched(m);
    log::line("msg={} action=flush by=trigger recipients={}", id, due);
  }
}

}  // namespace postern::send
