// worker: lspawn's worker, one per request (worker.hpp). It
//   1. opens the message file queue/mess/<id>,
//   2. forks a lookup child that becomes posternp, in /, and runs the user
//      lookup (delivery/user_lookup.hpp) in-process, writing the encoded
//      MailUser (or why not) to a pipe,
//   3. checks that answer as it checked getpw's (it crossed from a less
//      privileged process), and refuses uid 0, gid 0,
//   4. forks a delivery child that sets the limits of control/*local
//      (user_limits.hpp) while still root, so the user cannot raise them,
//      becomes the user, goes to the home directory and runs local's
//      delivery in-process (delivery/local_delivery.hpp): fd 0 the message,
//      fd 1 the result pipe, fd 2 the log, every other descriptor closed
//      (send's request and report pipes above all: a |program of the user
//      must never be able to write reports), every signal at its default,
//      umask 077, the environment only PATH: what the exec'd local saw,
//   5. turns the child's exit status and its first 1000 bytes into the
//      report.
// No exec on this path: the two execs per recipient (getpw, local) were
// most of a delivery's CPU (DESIGN.md, "Performance"). The privilege split
// is the one the programs had: the lookup as posternp, the delivery as the
// user, root only forks, sets limits and reads a length-bounded answer.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "delivery/local_delivery.hpp"
#include "delivery/user_lookup.hpp"
#include "mail/address.hpp"
#include "mail/assign.hpp"
#include "mail/conf.hpp"
#include "mail/privilege.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/status.hpp"
#include "mail/user_limits.hpp"
#include "worker.hpp"

extern char** environ;

namespace postern::lspawn {

namespace {

// In a child: a short reason on fd 1 (the worker's pipe), and exit 111.
[[noreturn]] void child_fails(const std::string& why) {
  std::string line = why + "\n";
  [[maybe_unused]] auto n = ::write(1, line.data(), line.size());
  ::_exit(status::temporary);
}

// Forks a child with fd 0 from in, fd 1 a pipe to us, fd 2 the log and no
// other descriptor, which runs body (body never returns). Collects at most
// max bytes of what it writes, then waits; returns the wait status, or -1
// when it could not run.
int run_child(const std::function<void()>& body, int in, std::size_t max, std::string& output) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return -1;
  }
  if (pid == 0) {
    if (::dup2(in, 0) < 0 || ::dup2(p[1], 1) < 0) ::_exit(status::temporary);
    ::close_range(3, ~0U, 0);
    // An exception must end the child here, never unwind into the
    // worker's code as a second worker.
    try {
      body();
    } catch (...) {
    }
    ::_exit(status::temporary);
  }
  ::close(p[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < max) output.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), max - output.size()));
  }
  ::close(p[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return st;
}

// The lookup child's body: as posternp (pw_uid, pw_gid), in /.
[[noreturn]] void lookup_child(const std::string& local, uid_t uid, gid_t gid) {
  ::prctl(PR_SET_NAME, "getpw");
  log::set_program("getpw");
  if (!become(uid, gid)) child_fails("unable to switch to the user " + std::string(conf::user_pw));
  if (::chdir("/") != 0) child_fails("unable to chdir to /");
  auto found = delivery::find_mail_user(local);
  if (!found.user) {
    log::write_line("fatal: " + found.error);  // as the program getpw logs it
    child_fails(found.error);
  }
  if (!write_all(1, encode_mail_user(*found.user))) ::_exit(status::temporary);
  ::_exit(status::ok);
}

// Everything a delivery child inherits from lspawn and an exec would have
// reset: handlers (lspawn ignores SIGCHLD, and waitpid for a |program
// would then fail), the signal mask, the environment.
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

// The delivery child's body: limits, the user, home, then local.
[[noreturn]] void delivery_child(const MailUser& user, const delivery::LocalArgs& args, const UserLimits& limits) {
  // ps -C local finds a delivery in progress, as it found the exec'd local.
  ::prctl(PR_SET_NAME, "local");
  reset_like_exec();
  if (!apply_user_limits(limits))
    child_fails(std::string("unable to set the resource limits: ") + std::strerror(errno));
  if (!become(user.uid, user.gid)) child_fails("unable to switch to the recipient's user id");
  if (::chdir(user.home.c_str()) != 0)
    child_fails("unable to chdir to " + user.home + ": " + std::strerror(errno));
  delivery::run_local(args);
}

}  // namespace

spawn::Report deliver(const spawn::Request& req, const std::string& default_delivery) {
  spawn::Report rep;
  rep.delnum = req.targets[0].delnum;
  rep.result = status::deferred;

  Fd mess(::open(queue_dirs::mess(req.id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!mess.ok()) {
    rep.text = "unable to open the message file: " + std::string(std::strerror(errno));
    return rep;
  }

  Address rcpt = split_address(req.targets[0].recipient);
  std::string local = lower(rcpt.local);
  uid_t pw_uid = 0;
  gid_t pw_gid = 0;
  if (!conf::single_user) {
    struct passwd* pw = ::getpwnam(conf::user_pw);
    if (!pw) {
      rep.text = std::string("the user ") + conf::user_pw + " does not exist";
      return rep;
    }
    pw_uid = pw->pw_uid;
    pw_gid = pw->pw_gid;
  }
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.ok()) {
    rep.text = "unable to open /dev/null: " + std::string(std::strerror(errno));
    return rep;
  }
  std::string answer;
  int st = run_child([&] { lookup_child(local, pw_uid, pw_gid); }, null.get(), 4096, answer);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    std::string why(trim(answer));
    rep.text = "unable to look up the recipient's user" +
               (st >= 0 && WIFEXITED(st) && !why.empty() ? ": " + log::printable(why, 200) : " (getpw failed)");
    return rep;
  }
  auto user = decode_mail_user(answer);
  if (!user) {
    rep.text = "getpw gave a malformed answer";
    return rep;
  }
  // Mail is never delivered as root in a real install; a single-user
  // instance delivers everything as the one user that runs it.
  if (conf::single_user ? user->uid != ::getuid() : (user->uid == 0 || user->gid == 0)) {
    rep.text = "refused to deliver as uid " + std::to_string(user->uid) + " gid " + std::to_string(user->gid);
    return rep;
  }

  // The lookup worked on the lowercased local part; local gets the
  // extension as it was written (it lowercases it for file names itself),
  // so DEFAULT and EXT keep the sender's case.
  std::string ext = user->ext;
  if (ext.size() <= rcpt.local.size() && lower(rcpt.local.substr(rcpt.local.size() - ext.size())) == ext)
    ext = rcpt.local.substr(rcpt.local.size() - ext.size());
  std::string why;
  auto limits = load_user_limits("local", why);
  if (!limits) {
    rep.text = why;
    return rep;
  }
  delivery::LocalArgs args{user->user, user->home, rcpt.local, user->dash, ext, rcpt.domain, req.sender,
                           default_delivery, false};
  std::string output;
  st = run_child([&] { delivery_child(*user, args, *limits); }, mess.get(), 1000, output);
  rep.text = std::string(trim(output));
  if (st < 0) {
    rep.text = "unable to run local: " + std::string(std::strerror(errno));
  } else if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    rep.text = "local was killed by signal " + std::to_string(sig) +
               (sig == SIGXCPU || sig == SIGKILL ? " (over its CPU time limit, control/cpulocal?)" : "") +
               (rep.text.empty() ? "" : ": " + rep.text);
  } else if (WEXITSTATUS(st) == status::ok) {
    rep.result = status::delivered;
  } else if (WEXITSTATUS(st) == status::permanent) {
    rep.result = status::failed;
  }
  if (rep.text.empty()) rep.text = rep.result == status::delivered ? "delivered" : "local gave no reason";
  return rep;
}

}  // namespace postern::lspawn
