// local_program: running a |command line of a .qmail file, as qmail-command(8)
// describes: /bin/sh -c command, the message (as it is, nothing prepended:
// programs that want the envelope lines use preline or $DTLINE) on stdin,
// and a fresh environment that says who the mail is for. The program's
// stdout and stderr are captured, the first max_output bytes kept for the
// result text (that is how a program explains a bounce), the rest drained.
//
// The command is the user's own and runs with the user's rights; nothing
// in it is interpreted here. The exit code decides the outcome.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "mail/conf.hpp"
#include "mail/dot_qmail.hpp"
#include "base/io.hpp"
#include "delivery/local_parts.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

namespace postern::delivery {

namespace {

constexpr std::size_t max_output = 800;
// qmail had no limit, and a program stuck for ever held a delivery slot
// for ever. An hour is far beyond any sane filter or list manager.
constexpr auto max_run = std::chrono::hours(1);

std::vector<std::string> environment(const Context& c) {
  std::vector<std::string> env = {
      // postern's own programs first, so that |preline procmail just works.
      "PATH=" + conf::path("bin") + ":/usr/local/bin:/usr/bin:/bin",
      "SENDER=" + c.sender,
      "NEWSENDER=" + c.sender,
      "RECIPIENT=" + c.recipient,
      "USER=" + c.user,
      "HOME=" + c.home,
      "LOCAL=" + c.local,
      "HOST=" + c.domain,
      "HOST2=" + dot_qmail::host_part(c.domain, 1),
      "HOST3=" + dot_qmail::host_part(c.domain, 2),
      "HOST4=" + dot_qmail::host_part(c.domain, 3),
      "EXT=" + c.ext,
      "EXT2=" + dot_qmail::ext_part(c.ext, 1),
      "EXT3=" + dot_qmail::ext_part(c.ext, 2),
      "EXT4=" + dot_qmail::ext_part(c.ext, 3),
      "DTLINE=" + c.dtline,
      "RPLINE=" + c.rpline,
      "UFLINE=" + c.ufline,
  };
  if (c.default_part) env.push_back("DEFAULT=" + *c.default_part);
  return env;
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(const std::string& command, char* const* envp, int out) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig : {SIGPIPE, SIGALRM, SIGCHLD, SIGINT, SIGQUIT, SIGTERM, SIGHUP})
    ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setpgid(0, 0);  // so a time-out can stop what it started, too
  if (::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(status::temporary);
  ::close_range(3, ~0U, 0);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  ::execve("/bin/sh", const_cast<char* const*>(argv), envp);
  static const char msg[] = "Unable to run /bin/sh. (#4.3.0)";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(status::temporary);
}

// Reads the program's output until it closes the pipe or, once the program
// has exited, until nothing more is waiting: a daemon it started may hold
// the pipe open for ever, and must not hold the delivery with it.
// Returns false when the program ran out of time (and was killed).
bool collect(int fd, pid_t pid, std::string& output, int& wstatus, bool& reaped) {
  auto deadline = std::chrono::steady_clock::now() + max_run;
  char buf[4096];
  std::size_t after_exit = 0;  // a chatty daemon could write for ever
  for (;;) {
    struct pollfd p {fd, POLLIN, 0};
    int r = ::poll(&p, 1, reaped ? 0 : 1000);
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;
      if (reaped && (after_exit += static_cast<std::size_t>(n)) > (1 << 20)) return true;
      std::size_t room = max_output - std::min(max_output, output.size());
      output.append(buf, std::min(room, static_cast<std::size_t>(n)));
    } else if (reaped) {
      return true;  // exited, and the pipe is quiet
    }
    if (!reaped && std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      return false;
    }
    if (!reaped && ::waitpid(pid, &wstatus, WNOHANG) == pid) reaped = true;
  }
}

bool permanent_code(int code) {
  switch (code) {
    case status::permanent: case 64: case 65: case 70: case 76: case 77: case 78: case 112: return true;
    default: return false;
  }
}

}  // namespace

Outcome run_program(const Context& c, const std::string& command, bool& stop) {
  stop = false;
  if (!rewind_message())
    return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  std::vector<std::string> env = environment(c);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return temporary(std::string("Unable to make a pipe: ") + std::strerror(errno) + ". (#4.3.0)");
  Fd reader(p[0]), writer(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return temporary(std::string("Unable to fork: ") + std::strerror(errno) + ". (#4.3.0)");
  if (pid == 0) exec_child(command, envp.data(), writer.get());
  writer.reset();

  std::string output;
  int wstatus = 0;
  bool reaped = false;
  bool in_time = collect(reader.get(), pid, output, wstatus, reaped);
  if (!reaped) {
    while (::waitpid(pid, &wstatus, 0) < 0) {
      if (errno != EINTR)
        return temporary(std::string("Unable to wait for the program: ") + std::strerror(errno) + ". (#4.3.0)");
    }
  }

  std::string said(trim(output));
  std::string program = "|" + command;
  if (!in_time)
    return temporary("Program " + program + " ran for more than an hour and was killed. (#4.3.0)");
  if (WIFSIGNALED(wstatus))
    return temporary("Program " + program + " was killed by signal " + std::to_string(WTERMSIG(wstatus)) +
                     (said.empty() ? "" : ": " + said) + ". (#4.3.0)");
  int code = WEXITSTATUS(wstatus);
  if (code == status::ok || code == status::ok_stop) {
    stop = code == status::ok_stop;
    return {code == 0 ? status::ok : status::ok_stop,
            "program " + program + (said.empty() ? "" : ": " + said)};
  }
  std::string text = said.empty() ? "Program " + program + " exited " + std::to_string(code)
                                  : said + " (program exited " + std::to_string(code) + ")";
  if (permanent_code(code)) return permanent(text + (said.empty() ? ". (#5.0.0)" : ""));
  return temporary(text + (said.empty() ? ". (#4.3.0)" : ""));
}

}  // namespace postern::delivery
