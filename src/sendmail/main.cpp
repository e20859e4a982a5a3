// sendmail: the sendmail command that scripts and mail user agents expect,
// mapped onto postern's programs.
//
// With no mode option (or -bm) sendmail reads a message on its standard
// input and does inject's work on it, in this process (lib/inject:
// the same code as bin/inject, one program start less): recipients are the
// arguments, or with -t those in To:, Cc: and Bcc: as well. Input ends at
// end of file or, unless -i or -oi is given, at a line holding a single
// '.'. -f or -r sets the envelope sender, -F the full name for From:.
// -bp (or running as mailq) runs bin/mailq; -q asks the scheduler to retry
// the whole queue now, -qR domain, -qS sender and -qI id only that mail;
// -bs runs bin/smtpd on stdin and stdout; -bi, -I (or running as
// newaliases) run bin/newaliases. Sendmail's many tuning options
// (-oX, -B, -N, -R, -V, -L, -h, -C, -X, -e, ...) are accepted and ignored.
//
// Runs with the caller's privileges and trusts the command line only to
// choose among those programs; the paths are compiled in. Exit codes: those
// of the program it runs (inject: 0, 100, 111); 64 (EX_USAGE) for a command
// line it does not understand; 111 when a program cannot be run.
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mail/conf.hpp"
#include "dot.hpp"
#include "inject/inject.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "options.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_request.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::sendmail;

namespace {

constexpr int ex_usage = EX_USAGE;  // sendmail's own convention for a bad command line

std::string base_name(const char* argv0) {
  std::string s = argv0 ? argv0 : "sendmail";
  auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string shown(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t'\"\\$") == std::string::npos;
    out += plain ? a : "'" + a + "'";
  }
  return out;
}

// Replaces this process with conf-home/bin/program.
[[noreturn]] void run(const std::string& program, std::vector<std::string> args, bool verbose) {
  std::string path = conf::path("bin/" + program);
  args.insert(args.begin(), program);
  if (verbose) log::line("running {} {}", path, shown({args.begin() + 1, args.end()}));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  log::die(status::temporary, "unable to run " + path + ": " + std::strerror(errno));
}

std::vector<std::string> inject_args(const Request& r) {
  std::vector<std::string> a;
  a.push_back(r.header_recipients ? "-t" : "-a");
  if (r.sender) {
    a.push_back("-f");
    a.push_back(*r.sender);
  }
  if (r.full_name) {
    a.push_back("-F");
    a.push_back(*r.full_name);
  }
  a.push_back("--");
  a.insert(a.end(), r.args.begin(), r.args.end());
  return a;
}

// Does inject's work on standard input, here; does not return.
[[noreturn]] void inject_here(const Request& r) {
  std::vector<std::string> args = inject_args(r);
  args.insert(args.begin(), "inject");
  if (r.verbose) log::line("running inject {} in this process", shown({args.begin() + 1, args.end()}));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int code = inject::run(static_cast<int>(args.size()), argv.data());
  std::exit(code);
}

// Does inject's work in a child whose input is cut at the first lone '.'
// line, and returns its exit code.
int inject_until_dot(const Request& r) {
  int p[2];
  if (::pipe(p) != 0) log::die(status::temporary, "unable to create a pipe");
  pid_t pid = ::fork();
  if (pid < 0) log::die(status::temporary, "unable to fork");
  if (pid == 0) {
    ::close(p[1]);
    if (::dup2(p[0], 0) < 0) ::_exit(status::temporary);
    ::close(p[0]);
    inject_here(r);
  }
  ::close(p[0]);
  ::signal(SIGPIPE, SIG_IGN);
  // If inject stops reading early it has refused the message and says why;
  // its exit code is the answer either way.
  if (copy_until_dot(0, p[1]) == CopyResult::read_error)
    log::die(status::temporary, "unable to read the message");
  ::close(p[1]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) log::die(status::temporary, "lost track of inject");
  }
  if (!WIFEXITED(st)) log::die(status::temporary, "inject crashed");
  return WEXITSTATUS(st);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = base_name(argv[0]);
  log::set_program(name);
  std::vector<std::string> args(argv + 1, argv + argc);
  Parsed parsed = parse_command_line(name, args);
  if (!parsed.request) {
    log::line("{}", parsed.error);
    log::line("usage: sendmail [ -t ] [ -i ] [ -f sender ] [ -F name ] [ -v ] [ address ... ]");
    log::line("       sendmail -bp | -bs | -bi | -q | -qR domain | -qS sender | -qI id");
    return ex_usage;
  }
  const Request& r = *parsed.request;

  switch (r.mode) {
    case Mode::print_queue: run("mailq", r.args, r.verbose);
    case Mode::newaliases: run("newaliases", {}, r.verbose);
    case Mode::smtp: run("smtpd", {"-l"}, r.verbose);
    case Mode::run_queue:
      if (r.queue_kind) {
        queue_request::Selector sel{r.queue_kind, r.queue_value};
        if (!queue_request::valid_selector(sel)) {
          log::line("not a valid value for -q: {}", log::printable(r.queue_value, 80));
          return ex_usage;
        }
        if (!queue_request::poke_flush(sel)) {
          log::line("send is not running; the queue is run when it starts");
          return status::temporary;
        }
      } else {
        queue_dirs::poke_send(queue_dirs::retry_all);
      }
      std::puts("sendmail: queue run started");
      return status::ok;
    case Mode::deliver: break;
  }

  if (!r.header_recipients && r.args.empty()) {
    log::line("no recipients given (use -t to take them from the header)");
    return ex_usage;
  }
  if (r.ignore_dots) inject_here(r);
  int code = inject_until_dot(r);
  if (r.verbose) log::line("inject exited with code {}", code);
  return code;
}
