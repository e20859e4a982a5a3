// children: the bodies of lspawn's lookup process and delivery agents
// (children.hpp). They run after fork without exec, so everything an exec
// would have reset (signal handlers and mask, the environment, open
// descriptors) is reset here by hand. Each reads root's requests (bounded
// records) and answers with bounded records; a request it cannot decode
// gets a temporary failure, never a guess.
#include "children.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "delivery/agent_wire.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/user_lookup.hpp"
#include "mail/conf.hpp"
#include "mail/privilege.hpp"
#include "mail/remote_run.hpp"
#include "mail/status.hpp"

extern char** environ;

namespace postern::lspawn {

namespace {

constexpr int sock_fd = 1;

// What the parent set up and an exec would have undone: its SIGCHLD
// handler (waitpid for a |program would then race it), the signal mask,
// the environment.
void reset_like_exec() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  static char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
  static char* env[] = {path, nullptr};
  environ = env;
}

// Waits for the next request; false at end of file (or an error, after
// which nothing more can be read).
bool next_request(std::string& bytes, int* fd) {
  for (;;) {
    int r = delivery::receive_record(sock_fd, bytes, fd, true);
    if (r > 0) return true;
    // Cut short (or a descriptor that could not be taken, under a low
    // control/fileslocal): an empty request, which is answered as
    // malformed, so the parent's delivery is deferred, not left waiting.
    if (r < 0 && errno == EMSGSIZE) {
      bytes.clear();
      if (fd) *fd = -1;
      return true;
    }
    return false;
  }
}

void answer(const std::string& bytes) {
  if (!delivery::send_record(sock_fd, bytes)) ::_exit(status::temporary);
}

unsigned long cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<unsigned long>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec);
}

}  // namespace

pid_t fork_child(int& sock, const std::function<void()>& body) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    errno = e;
    return -1;
  }
  if (pid == 0) {
    // A session of its own: a hang-up or ^C sent to start's process group
    // (reset_like_exec gives SIGHUP and SIGINT their default) must not end
    // a delivery in the middle; the child ends when lspawn closes its end.
    ::setsid();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(sv[1], sock_fd) < 0) ::_exit(status::temporary);
    // send's pipes, the other children's sockets, the messages of other
    // deliveries: none may be visible to this child, least of all to a
    // user's program.
    ::close_range(3, ~0U, 0);
    try {
      body();
    } catch (...) {
    }
    ::_exit(status::temporary);
  }
  ::close(sv[1]);
  sock = sv[0];
  return pid;
}

void lookup_main(uid_t uid, gid_t gid) {
  ::prctl(PR_SET_NAME, "getpw");
  log::set_program("getpw");
  reset_like_exec();
  std::string broken;
  if (!become(uid, gid)) broken = "unable to switch to the user " + std::string(conf::user_pw);
  else if (::chdir("/") != 0) broken = "unable to chdir to /";
  std::string req;
  while (next_request(req, nullptr)) {
    delivery::LookupAnswer a;
    if (!broken.empty()) {
      a.error = broken;
    } else if (req.empty() || req[0] != 'L') {
      a.error = "lspawn sent a malformed lookup";
    } else {
      // users/assign.cdb and the password database are opened again for
      // every lookup, so a change is seen at the next delivery.
      std::string_view asked = std::string_view(req).substr(1);
      auto nul = asked.find('\0');
      auto found = delivery::find_mail_user(asked.substr(0, nul),
                                            nul == std::string_view::npos ? "" : asked.substr(nul + 1));
      a.user = found.user;
      a.error = found.error;
      a.mailhost = found.mailhost;
      if (!found.user && found.mailhost.empty()) log::write_line("fatal: " + found.error);  // as getpw logs it
    }
    answer(delivery::encode_lookup_answer(a));
  }
  ::_exit(status::ok);
}

void agent_main(uid_t uid, gid_t gid, const UserLimits& limits, unsigned long retire_cpu) {
  // ps -C local finds a delivery agent, as it found the exec'd local.
  ::prctl(PR_SET_NAME, "local");
  log::set_program("local");
  reset_like_exec();
  std::string broken;
  if (!apply_user_limits(limits))
    broken = std::string("unable to set the resource limits: ") + std::strerror(errno);
  else if (!become(uid, gid))
    broken = "unable to switch to the recipient's user id";
  ::umask(077);
  ::signal(SIGPIPE, SIG_IGN);  // as run_local: a program that stops reading gives EPIPE

  std::string req;
  int message = -1;
  for (unsigned long done = 0; next_request(req, &message);) {
    delivery::Outcome o;
    auto args = delivery::decode_agent_request(req);
    // Only fd 0 may hold the message while a delivery runs.
    bool taken = message >= 0 && ::dup2(message, 0) == 0;
    if (message >= 0) ::close(message);
    if (!broken.empty()) {
      o = delivery::temporary(broken);
    } else if (!args || message < 0) {
      o = delivery::temporary("lspawn sent a malformed delivery request");
    } else if (!taken) {
      o = delivery::temporary(std::string("unable to take the message: ") + std::strerror(errno));
    } else if (::chdir(args->home.c_str()) != 0) {
      o = delivery::temporary("unable to chdir to " + args->home + ": " + std::strerror(errno));
    } else {
      o = delivery::deliver_local_caught(*args);
    }
    message = -1;
    // The message must not stay open into the next delivery, which may be
    // for another address of this user (or wait here for a while).
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) != 0) ::_exit(status::temporary);
    ::close(null);
    [[maybe_unused]] int gone = ::chdir("/");  // hold no home while idle
    bool last = !broken.empty() || ++done >= max_deliveries || (retire_cpu && cpu_seconds() >= retire_cpu);
    answer(delivery::encode_agent_answer({o, last}));
    if (last) break;
  }
  ::_exit(status::ok);
}

std::string encode_forward_request(const std::string& host, const std::string& sender, const std::string& rcpt) {
  return host + '\0' + sender + '\0' + rcpt;
}

namespace {

// remote's answer for the one recipient, as an agent's outcome.
delivery::Outcome forward_by_remote(const std::string& host, const std::string& sender, const std::string& rcpt) {
  RemoteResult r = run_remote(0, host, sender, {rcpt}).front();
  std::string text = "mailbox host " + host + ": " + r.text;
  if (r.result == status::delivered) return {status::ok, text};
  return r.result == status::failed ? delivery::permanent(text) : delivery::temporary(text);
}

}  // namespace

void forward_main(uid_t uid, gid_t gid) {
  ::prctl(PR_SET_NAME, "forward");
  log::set_program("lspawn");
  reset_like_exec();
  ::signal(SIGPIPE, SIG_IGN);
  delivery::Outcome o;
  std::string req;
  int message = -1;
  if (!become(uid, gid) || ::chdir("/") != 0) {
    o = delivery::temporary("unable to switch to the user " + std::string(conf::user_remote));
  } else if (!next_request(req, &message) || message < 0) {
    o = delivery::temporary("lspawn sent a malformed forwarding request");
  } else {
    auto f = split(req, '\0');
    bool taken = ::dup2(message, 0) == 0;
    ::close(message);
    if (f.size() != 3 || !taken) o = delivery::temporary("lspawn sent a malformed forwarding request");
    else o = forward_by_remote(std::string(f[0]), std::string(f[1]), std::string(f[2]));
  }
  answer(delivery::encode_agent_answer({o, true}));
  ::_exit(status::ok);
}

}  // namespace postern::lspawn
