// send: the scheduler. Delivers every queued message, retrying and bouncing.
//
// start runs send as posterns in conf-home/queue with these descriptors:
//   3, 4   requests to and reports from lspawn (local deliveries)
//   5, 6   requests to and reports from rspawn (remote); closed when absent
//   7, 8   requests to and replies from clean
//   2      the log
// send takes every envelope that queue leaves in queue/todo, classifies each
// recipient as local (control/locals, control/virtualdomains) or remote,
// and hands deliveries to the spawns within control/concurrencylocal and
// concurrencyremote, sharing the slots round robin between messages (and
// between domains, for remote). A temporary failure is tried again on a
// schedule that grows with the message's age, until control/queuelifetime;
// a permanent one is bounced to the envelope sender as an RFC 3464 report
// (never to <>: those go to control/doublebounceto). A message whose every
// recipient is delivered or bounced is removed by clean.
//
// Runs as posterns, never as root in a multi-user install (it parses the
// envelopes of any local user and the reports of the spawns). Trusts start
// for its descriptors and the control files; checks every envelope, record
// and report it reads (spawn_protocol, queue_state).
//
// When lspawn, rspawn or clean goes away, send stops starting deliveries,
// waits for those in flight, and exits 111, so that whatever supervises the
// system (systemd, daemontools, the rc's caller) starts it again: send runs
// as posterns and cannot restart programs that run as other users.
//
// Signals: SIGALRM (or an 'R' written to the trigger, as sendmail -q does)
// retries everything now; a request in queue/ctl (queuectl) or a flush
// line on the trigger (sendmail -qR) is applied between events
// (requests.cpp); SIGHUP rereads the control files; SIGTERM stops
// starting deliveries, waits for those in flight and exits 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controls.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/queue_dirs.hpp"
#include "scheduler.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::send;

namespace {

volatile sig_atomic_t got_alarm = 0, got_hup = 0, got_term = 0;
int wake_pipe[2] = {-1, -1};

void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGALRM) got_alarm = 1;
  if (sig == SIGHUP) got_hup = 1;
  if (sig == SIGTERM) got_term = 1;
  char c = 's';
  [[maybe_unused]] auto n = ::write(wake_pipe[1], &c, 1);
  errno = saved;
}

bool valid_fd(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

Channel make_channel(char name, int to, int from) {
  Channel ch;
  ch.name = name;
  if (valid_fd(to) && valid_fd(from)) {
    ch.to = to;
    ch.from = from;
    ch.reader = std::make_unique<LineReader>(from, 4096);
  }
  return ch;
}

}  // namespace

int main() {
  log::set_program("send");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0))
    log::die(status::temporary, "refusing to run as root");
  // The descriptors from start are checked before anything else is opened.
  Channel local = make_channel('L', 3, 4);
  Channel remote = make_channel('R', 5, 6);
  if (local.to < 0) log::die(status::temporary, "no lspawn on descriptors 3 and 4");
  if (!valid_fd(7) || !valid_fd(8)) log::die(status::temporary, "no clean on descriptors 7 and 8");
  if (::chdir(queue_dirs::root().c_str()) != 0)
    log::die(status::temporary, "unable to chdir to the queue " + queue_dirs::root() + ": " + std::strerror(errno));
  Fd lock(::open(queue_dirs::send_lock().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.ok() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
    log::die(status::temporary, "another send is running on this queue (or queue/lock is unwritable)");

  Controls controls;
  std::string why;
  if (!load_controls(controls, why)) log::die(status::temporary, why);

  // The trigger is opened for writing too, so that it never reports end of
  // file when the last queue closes it.
  Fd trigger(::open(queue_dirs::trigger().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  Fd trigger_keep(::open(queue_dirs::trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!trigger.ok() || !trigger_keep.ok()) log::die(status::temporary, "unable to open queue/lock/trigger");
  if (::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) log::die(status::temporary, "unable to create a pipe");

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigemptyset(&sa.sa_mask);
  for (int sig : {SIGALRM, SIGHUP, SIGTERM}) ::sigaction(sig, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Scheduler scheduler(controls, &local, &remote, 7, 8);
  scheduler.recover();
  scheduler.scan_todo();
  scheduler.take_requests();  // those that came while send was stopped
  queue_request::FlushReader flushes;
  log::line("status: started with {} message(s) in the queue", scheduler.messages());

  const bool have_remote = remote.to >= 0;
  std::string lost;  // the program whose loss stops send
  std::time_t last_scan = std::time(nullptr);
  for (;;) {
    std::time_t now = std::time(nullptr);
    if (lost.empty()) {
      if (local.to < 0 || local.from < 0) lost = "lspawn";
      else if (have_remote && (remote.to < 0 || remote.from < 0)) lost = "rspawn";
      else if (scheduler.clean_lost()) lost = "clean";
      if (!lost.empty())
        log::line("status: {} has exited; stopping when the deliveries in flight end, to be restarted", lost);
    }
    bool stopping = got_term || !lost.empty();
    if (now - last_scan >= 60 && !stopping) {
      // A trigger byte can be lost (send busy, pipe full): look anyway.
      scheduler.scan_todo();
      scheduler.take_requests();
      last_scan = now;
    }
    if (got_hup) {
      got_hup = 0;
      if (load_controls(controls, why)) {
        scheduler.set_controls(controls);
        log::line("reread the control files");
      } else {
        log::line("kept the old settings: {}", why);
      }
    }
    if (got_alarm) {
      got_alarm = 0;
      scheduler.retry_all();
    }
    if (stopping) {
      if (scheduler.in_flight() == 0) break;
    } else {
      scheduler.start_due(now);
      scheduler.settle(now);
    }
    scheduler.flush(now);

    pollfd fds[5] = {{wake_pipe[0], POLLIN, 0},
                     {trigger.get(), POLLIN, 0},
                     {local.from, POLLIN, 0},
                     {remote.from, POLLIN, 0},
                     {scheduler.clean_lost() ? -1 : 8, POLLIN, 0}};
    int timeout = stopping ? 1000 : scheduler.timeout_ms(now);
    int r = ::poll(fds, 5, timeout);
    if (r < 0 && errno != EINTR) log::die(status::temporary, "poll failed");
    if (r <= 0) continue;
    char buf[512];
    if (fds[0].revents) while (::read(wake_pipe[0], buf, sizeof buf) > 0) {}
    if (fds[1].revents) {
      ssize_t n;
      bool retry = false;
      while ((n = ::read(trigger.get(), buf, sizeof buf)) > 0) {
        retry |= std::memchr(buf, queue_dirs::retry_all, static_cast<std::size_t>(n)) != nullptr;
        flushes.feed(buf, static_cast<std::size_t>(n));
      }
      if (retry) scheduler.retry_all();
      if (!stopping) scheduler.scan_todo();
      for (auto& sel : flushes.take()) scheduler.flush_matching(sel);
      if (!stopping) scheduler.take_requests();
    }
    if (fds[2].revents) scheduler.read_reports(local);
    if (fds[3].revents) scheduler.read_reports(remote);
    if (fds[4].revents) scheduler.clean_hung_up();
  }
  scheduler.flush(std::time(nullptr), true);
  log::line("status: exiting with {} message(s) in the queue", scheduler.messages());
  return lost.empty() ? 0 : status::temporary;
}
