// login_parent: see login_parent.hpp.
#include "login/login_parent.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "login/login_request.hpp"
#include "mail/privilege.hpp"
#include "base/secret.hpp"
#include "mail/status.hpp"

namespace postern::login {

namespace {

std::string client() {
  const char* ip = std::getenv("TCPREMOTEIP");
  return ip ? log::printable(ip, 64) : std::string("unknown");
}

// The environment checkpassword gets: a fixed PATH, what the prefix of the
// packet stands for, and what tcpserver said about the connection;
// nothing else from ours.
std::vector<std::string> clean_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env{"PATH=/usr/local/bin:/usr/bin:/bin"};
  env.insert(env.end(), extra.begin(), extra.end());
  for (const char* name : {"TCPREMOTEIP", "TCPREMOTEHOST", "TCPREMOTEPORT", "TCPREMOTEINFO", "TCPLOCALIP",
                           "TCPLOCALHOST", "TCPLOCALPORT", "PROTO"}) {
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  return env;
}

}  // namespace

Checker password_checker() {
  Checker c;
  c.checkpassword = conf::path("bin/checkpassword");
  c.mailbox = "/bin/true";
  c.authenticate_only = true;
  return c;
}

namespace {

// Runs the checkpassword chain and returns its wait status (-1: it could
// not be started).
int run_checkpassword(const Checker& c, std::string_view request, const std::vector<std::string>& extra) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  // The request fits in the pipe's buffer: write it all before the fork.
  if (!write_all(p[1], request)) {
    ::close(p[0]);
    ::close(p[1]);
    return -1;
  }
  ::close(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    return -1;
  }
  if (pid == 0) {
    if (::dup2(p[0], 3) < 0) std::_Exit(status::temporary);  // dup2 clears close-on-exec
    if (!apply_user_limits(c.limits)) {
      log::line("cannot set the resource limits: {}", std::strerror(errno));
      std::_Exit(status::temporary);
    }
    std::vector<std::string> env = clean_env(extra);
    // checkpassword(8): the password is all that is asked, so a directory
    // account of another mailbox host may pass (authhttp, smtpd -s).
    if (c.authenticate_only) env.push_back("AUTHONLY=1");
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{c.checkpassword, c.mailbox};
    if (!c.maildir.empty()) args.push_back(c.maildir);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    log::line("cannot run {}: {}", c.checkpassword, std::strerror(errno));
    std::_Exit(status::temporary);
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

[[noreturn]] void finish(int child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::_Exit(WIFEXITED(status) ? WEXITSTATUS(status) : status::temporary);
}

[[noreturn]] void end(int child, std::string_view why) {
  log::line("client {}: {} from the pre-auth stage; ending", client(), why);
  ::kill(child, SIGKILL);
  finish(child);
}

void answer(int fd, char c) {
  while (::send(fd, &c, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// The pre-auth stage had its time: it goes first, so that the goodbye is
// the last thing the client reads.
[[noreturn]] void login_too_late(const Checker& c, int child) {
  ::kill(child, SIGKILL);
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  write_all(1, c.login_goodbye);
  log::line("client {}: no login within {} seconds (control/deadline{}login); closed the connection", client(),
            c.login_deadline, c.service);
  std::_Exit(status::ok);
}

// Bounds the next recv by what is left of the login deadline (the parent
// stays in recv on its private socket, never on the client's); false when
// nothing is left.
bool bound_recv(const Checker& c, int fd, std::chrono::steady_clock::time_point end) {
  if (c.login_deadline == 0) return true;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
  if (left <= 0) return false;
  struct timeval tv {static_cast<time_t>(left / 1000), static_cast<suseconds_t>((left % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return true;
}

[[noreturn]] void temp_fail(std::string_view reply, const std::string& why) {
  write_all(1, reply);
  log::die(status::temporary, why);
}

}  // namespace

void split(const Checker& checker, std::string_view temp_reply, const std::function<void(int fd)>& preauth) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) temp_fail(temp_reply, "socketpair failed");
  pid_t child = ::fork();
  if (child < 0) temp_fail(temp_reply, "fork failed");
  if (child == 0) {
    ::close(sv[0]);
    if (!conf::single_user && ::geteuid() == 0) {
      if (!become_user(conf::user_daemon))
        temp_fail(temp_reply, std::string("cannot become ") + conf::user_daemon + ": " + std::strerror(errno));
    }
    if (::chdir("/") != 0) temp_fail(temp_reply, "cannot change to /");
    preauth(sv[1]);
    std::_Exit(status::temporary);  // not reached: the pre-auth stage exits itself
  }
  ::close(sv[1]);
  parent(checker, sv[0], child);
}

void parent(const Checker& checker, int fd, int child) {
  int failures = 0;
  auto login_end = std::chrono::steady_clock::now() + std::chrono::seconds(checker.login_deadline);
  for (;;) {
    if (!bound_recv(checker, fd, login_end)) login_too_late(checker, child);
    secret::String packet;
    packet.get().resize(max_packet);
    ssize_t n = ::recv(fd, packet.get().data(), packet.get().size(), MSG_TRUNC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) finish(child);
    if (static_cast<std::size_t>(n) > packet.get().size()) end(child, "oversized request");
    packet.get().resize(static_cast<std::size_t>(n));
    std::string_view rest = packet.get();
    std::vector<std::string> extra;
    if (checker.prefix) {
      auto skip = checker.prefix(rest, extra);
      if (!skip || *skip > rest.size()) end(child, "malformed request");
      rest.remove_prefix(*skip);
    }
    auto req = decode_request(rest);
    if (!req || rest.size() != encoded_size(*req) || (!checker.apop && !req->timestamp.empty()))
      end(child, "malformed request");
    int status = run_checkpassword(checker, rest, extra);
    std::string user = log::printable(req->user, 64);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (checker.authenticate_only) log::line("login of {} from {} for {}", user, client(), checker.service);
      answer(fd, checker.authenticate_only ? reply_authenticated : reply_done);
      // The stage may take no second login, and has no login deadline left.
      finish(child);
    }
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
      ++failures;
      log::line("login failed for {} from {} ({}failure {})", user, client(), req->timestamp.empty() ? "" : "APOP, ",
                failures);
      ::sleep(failure_delay);
      answer(fd, failures >= max_failures ? reply_too_many : reply_refused);
      if (failures >= max_failures) finish(child);
      continue;
    }
    if (status >= 0 && WIFSIGNALED(status)) {
      int sig = WTERMSIG(status);
      // Most likely a limit the parent set: CPU time (SIGXCPU, then
      // SIGKILL) or memory (an allocation that failed aborts).
      write_all(1, checker.stopped_goodbye);
      log::line("{} from {}: the session ended with signal {}{}", user, client(), sig,
                sig == SIGXCPU || sig == SIGKILL ? fmt::format(" (over control/cpu{}?)", checker.service)
                : sig == SIGABRT                 ? fmt::format(" (over control/memory{}?)", checker.service)
                                                 : "");
      answer(fd, reply_done);
      finish(child);
    }
    log::line("login of {} from {}: temporary failure (checkpassword exit {})", user, client(),
              status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    answer(fd, reply_temp);
  }
}

int ask(int fd, std::string_view packet) {
  ssize_t n;
  do n = ::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(packet.size())) return send_failed;
  char reply = 0;
  do n = ::recv(fd, &reply, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n != 1) return no_answer;
  return static_cast<unsigned char>(reply);
}

void harden() {
  std::signal(SIGPIPE, SIG_IGN);
  struct rlimit none {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

void parse_options(int argc, char** argv, const char* program, Checker& checker) {
  std::string usage = std::string("usage: ") + program + " [-c checkpassword] [-m maildir]";
  int opt;
  while ((opt = ::getopt(argc, argv, "c:m:")) != -1) {
    if (opt == 'c')
      checker.checkpassword = optarg;
    else if (opt == 'm')
      checker.maildir = optarg;
    else
      log::die(2, usage);
  }
  if (optind != argc) log::die(2, usage);
}

bool load_session_rules(Checker& checker, const std::string& service, std::string login_goodbye,
                        std::string stopped_goodbye, std::string& why) {
  auto login_deadline = control::number("deadline" + service + "login", 180);
  if (!login_deadline) {
    why = "bad control/deadline" + service + "login";
    return false;
  }
  auto limits = load_user_limits(service, why);
  if (!limits) return false;
  checker.service = service;
  checker.login_deadline = *login_deadline;
  checker.login_goodbye = std::move(login_goodbye);
  checker.stopped_goodbye = std::move(stopped_goodbye);
  checker.limits = *limits;
  return true;
}

}  // namespace postern::login
