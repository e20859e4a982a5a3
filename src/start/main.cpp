// start: starts the mail system: send, lspawn, rspawn, clean, queued (the
// queue writer) and a logger, connected by pipes, each under its own user id.
//
//   start defaultdelivery [logger [args...]]
//
// Run as root from conf-home/rc (in single-user mode, as the invoking user).
// defaultdelivery is the .qmail text used for users without a .qmail file,
// e.g. ./Maildir/ or ./Mailbox. With a logger (e.g. splogger postern) every
// program's log lines go to it, run as posternl; without one they go to
// start's standard output, for multilog or a file. start itself becomes
// send: stopping send (SIGTERM) stops the whole system, as every other
// program exits when its pipe from send closes.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "mail/conf.hpp"
#include "base/log.hpp"
#include "mail/privilege.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

struct Pipe {
  int read = -1, write = -1;
};

Pipe make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) log::die(status::temporary, "unable to create a pipe");
  return {p[0], p[1]};
}

// Puts each source descriptor on its target number (clearing close-on-exec
// there); going through high numbers first keeps sources and targets apart.
void place_fds(const std::vector<std::pair<int, int>>& moves) {
  std::vector<std::pair<int, int>> high;
  for (auto [src, target] : moves) {
    int h = ::fcntl(src, F_DUPFD_CLOEXEC, 64);
    if (h < 0) ::_exit(status::temporary);
    high.emplace_back(h, target);
  }
  for (auto [h, target] : high)
    if (::dup2(h, target) < 0) ::_exit(status::temporary);
}

[[noreturn]] void exec_program(const std::string& name, std::vector<std::string> args) {
  std::string path = conf::path("bin/" + name);
  args.insert(args.begin(), path);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  log::die(status::temporary, "unable to run " + path);
}

// Forks a child that becomes user (empty: stays root), places its fds and
// runs the program.
void spawn(const std::string& user, const std::vector<std::pair<int, int>>& fds, const std::string& name,
           std::vector<std::string> args) {
  pid_t pid = ::fork();
  if (pid < 0) log::die(status::temporary, "unable to fork");
  if (pid > 0) return;
  place_fds(fds);
  if (!user.empty() && !become_user(user)) log::die(status::temporary, "unable to become " + user);
  exec_program(name, std::move(args));
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("start");
  if (argc < 2) log::die(status::permanent, "usage: start defaultdelivery [logger [args...]]");
  // Nothing inherited beyond 0, 1 and 2 may reach send, which takes the
  // descriptors it finds open for its spawns.
  ::close_range(3, ~0U, 0);
  if (!conf::single_user && ::getuid() != 0) log::die(status::permanent, "start must be run as root");
  if (::chdir(conf::path("queue").c_str()) != 0)
    log::die(status::temporary, "unable to chdir to the queue " + conf::path("queue") + ": " + std::strerror(errno));
  ::signal(SIGPIPE, SIG_IGN);
  // A terminal's hang-up reaches every process of rc's group (after `rc &`).
  // An ignored signal stays ignored across exec, so no helper or logger
  // dies of it; send alone sets its own handler and rereads its controls.
  ::signal(SIGHUP, SIG_IGN);

  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) log::die(status::temporary, "unable to open /dev/null");
  int log_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 10);
  if (log_fd < 0) log::die(status::temporary, "standard output is closed");
  if (argc > 2) {
    Pipe logpipe = make_pipe();
    pid_t pid = ::fork();
    if (pid < 0) log::die(status::temporary, "unable to fork");
    if (pid == 0) {
      place_fds({{logpipe.read, 0}, {devnull, 1}});
      if (!become_user(conf::user_log)) log::die(status::temporary, std::string("unable to become ") + conf::user_log);
      // The queue is no place of the log user's: multilog opens "." at
      // start and dies of EACCES there.
      if (::chdir("/") != 0) log::die(status::temporary, "unable to chdir to /");
      ::execvp(argv[2], argv + 2);
      log::die(status::temporary, std::string("unable to run the logger ") + argv[2]);
    }
    ::close(log_fd);
    log_fd = logpipe.write;
    ::close(logpipe.read);
  }

  Pipe to_lspawn = make_pipe(), from_lspawn = make_pipe();
  Pipe to_clean = make_pipe(), from_clean = make_pipe();
  spawn("", {{to_lspawn.read, 0}, {from_lspawn.write, 1}, {log_fd, 2}}, "lspawn", {argv[1]});
  spawn(conf::user_queue, {{to_clean.read, 0}, {from_clean.write, 1}, {log_fd, 2}}, "clean", {});
  // queued, the queue writer, reads a pipe that only send holds (on 9, a
  // descriptor send does not use): it stops when send does.
  Pipe writer_life = make_pipe();
  spawn(conf::user_queue, {{writer_life.read, 0}, {log_fd, 1}, {log_fd, 2}}, "queued", {});

  std::vector<std::pair<int, int>> send_fds = {{devnull, 0},           {log_fd, 1},          {log_fd, 2},
                                               {to_lspawn.write, 3},   {from_lspawn.read, 4}, {to_clean.write, 7},
                                               {from_clean.read, 8},  {writer_life.write, 9}};
  if (::access(conf::path("bin/rspawn").c_str(), X_OK) == 0) {
    Pipe to_rspawn = make_pipe(), from_rspawn = make_pipe();
    spawn(conf::user_remote, {{to_rspawn.read, 0}, {from_rspawn.write, 1}, {log_fd, 2}}, "rspawn", {});
    send_fds.emplace_back(to_rspawn.write, 5);
    send_fds.emplace_back(from_rspawn.read, 6);
  }
  bool have_rspawn = send_fds.size() > 8;
  place_fds(send_fds);
  if (!have_rspawn) {
    ::close(5);
    ::close(6);
  }
  if (!become_user(conf::user_send)) log::die(status::temporary, std::string("unable to become ") + conf::user_send);
  exec_program("send", {});
}
