// lspawn: runs each local delivery that send asks for, as the recipient's
// user, and reports the result.
//
// Started by start as root (the only postern program besides start that
// keeps root), with send's requests on fd 0 and the reports to send on fd 1
// (see spawn_protocol.hpp); its one argument is the default delivery given
// to start. For each request it forks a worker that
//   1. opens the message file queue/mess/<id>,
//   2. asks getpw, run as posternp, who receives mail for the local part,
//   3. runs local as that user (never uid 0) in the user's home directory,
//      with the message on fd 0, under the limits of control/memorylocal,
//      cpulocal, processeslocal and fileslocal (user_limits.hpp), set
//      before it becomes the user so that it cannot raise them, and
//   4. turns local's exit code and output into one report line.
// The parent only reads requests and never parses a byte that local wrote;
// concurrency is send's to limit. When send closes fd 0, lspawn exits and
// the workers still running finish on their own.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mail/address.hpp"
#include "mail/assign.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/privilege.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/spawn_protocol.hpp"
#include "mail/status.hpp"
#include "mail/user_limits.hpp"
#include "base/strings.hpp"

using namespace postern;

namespace {

std::string default_delivery;

// Runs argv with stdin from in (or /dev/null), under limits when given,
// collecting at most max bytes of its stdout; returns the wait status, or
// -1 when it could not run.
int run_collect(char* const* argv, int in, std::size_t max, std::string& output,
                uid_t uid, gid_t gid, const char* dir, bool drop, const UserLimits* limits = nullptr) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (in < 0) in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, 0) < 0) ::_exit(status::temporary);
    if (::dup2(p[1], 1) < 0) ::_exit(status::temporary);
    if (limits && !apply_user_limits(*limits)) {
      std::string msg = std::string("unable to set the resource limits: ") + std::strerror(errno) + "\n";
      [[maybe_unused]] auto n = ::write(1, msg.data(), msg.size());
      ::_exit(status::temporary);
    }
    if (drop && !become(uid, gid)) {
      const char msg[] = "unable to switch to the recipient's user id\n";
      [[maybe_unused]] auto n = ::write(1, msg, sizeof msg - 1);
      ::_exit(status::temporary);
    }
    if (dir && ::chdir(dir) != 0) {
      std::string msg = std::string("unable to chdir to ") + dir + ": " + std::strerror(errno) + "\n";
      [[maybe_unused]] auto n = ::write(1, msg.data(), msg.size());
      ::_exit(status::temporary);
    }
    ::signal(SIGPIPE, SIG_DFL);
    char* empty_env[] = {const_cast<char*>("PATH=/usr/local/bin:/usr/bin:/bin"), nullptr};
    ::execve(argv[0], argv, empty_env);
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

spawn::Report deliver(const spawn::Request& req) {
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
  std::string getpw = conf::path("bin/getpw");
  char* gargv[] = {getpw.data(), local.data(), nullptr};
  std::string answer;
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
  int st = run_collect(gargv, -1, 4096, answer, pw_uid, pw_gid, "/", true);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    rep.text = "unable to look up the recipient's user (getpw failed)";
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

  // getpw worked on the lowercased local part; local gets the extension as
  // it was written (it lowercases it for file names itself), so DEFAULT and
  // EXT keep the sender's case.
  std::string ext = user->ext;
  if (ext.size() <= rcpt.local.size() && lower(rcpt.local.substr(rcpt.local.size() - ext.size())) == ext)
    ext = rcpt.local.substr(rcpt.local.size() - ext.size());
  std::string why;
  auto limits = load_user_limits("local", why);
  if (!limits) {
    rep.text = why;
    return rep;
  }
  std::string prog = conf::path("bin/local");
  std::vector<std::string> args = {prog,          user->user, user->home, rcpt.local, user->dash,
                                   ext,           rcpt.domain, req.sender, default_delivery};
  std::vector<char*> largv;
  for (auto& a : args) largv.push_back(a.data());
  largv.push_back(nullptr);
  std::string output;
  st = run_collect(largv.data(), mess.get(), 1000, output, user->uid, user->gid, user->home.c_str(), true,
                   &*limits);
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

}  // namespace

int main(int argc, char** argv) {
  log::set_program("lspawn");
  if (argc != 2) log::die(status::temporary, "usage: lspawn defaultdelivery");
  default_delivery = argv[1];
  ::signal(SIGCHLD, SIG_IGN);  // workers are never waited for
  ::signal(SIGPIPE, SIG_IGN);
  LineReader in(0, spawn::request_max);
  std::string line;
  for (;;) {
    auto r = in.next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) return status::ok;
    auto req = r == LineReader::Result::line ? spawn::decode_request(line) : std::nullopt;
    if (!req || req->targets.size() != 1) {
      log::line("refused a malformed request from send");
      continue;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      write_all(1, spawn::encode(spawn::Report{req->targets[0].delnum, status::deferred, "unable to fork"}));
      continue;
    }
    if (pid == 0) {
      ::signal(SIGCHLD, SIG_DFL);
      write_all(1, spawn::encode(deliver(*req)));
      ::_exit(status::ok);
    }
  }
}
