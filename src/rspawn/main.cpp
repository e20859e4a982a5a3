// rspawn: runs each remote delivery that send asks for, and reports the
// result of every recipient.
//
// start runs it as posternr with send's requests on fd 0 and the reports
// to send on fd 1 (spawn_protocol.hpp). A request names a message and the
// recipients at one domain; for each, rspawn forks a worker that opens the
// message file, runs remote DOMAIN SENDER RECIPIENT... with the message on
// fd 0, reads remote's one line per recipient and writes one report per
// recipient. A recipient remote says nothing about (it crashed) is
// deferred. Concurrency is send's to limit (control/concurrencyremote).
//
// Runs as posternr, never as root in a multi-user install: remote parses
// what other hosts send. Trusts send only as far as spawn_protocol's checks
// (ids are digits, so a path in queue/mess; addresses are checked there
// too), and remote only for one short line per recipient. A worker lets go
// of the request pipe at once, so that when rspawn itself dies send sees
// it (a write fails, the report pipe ends) instead of writing to no one.
//
// With the first request of each UTC day it also starts tlsrpt(8), which
// sends the TLS reports of the days before.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "mail/address.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/remote_run.hpp"
#include "mail/spawn_protocol.hpp"
#include "mail/status.hpp"
#include "base/strings.hpp"

using namespace postern;

namespace {

void report_all(const spawn::Request& req, char result, const std::string& text) {
  for (auto& t : req.targets) write_all(1, spawn::encode(spawn::Report{t.delnum, result, text}));
}

void deliver(const spawn::Request& req) {
  Fd mess(::open(queue_dirs::mess(req.id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!mess.ok()) {
    report_all(req, status::deferred, "unable to open the message file: " + std::string(std::strerror(errno)));
    return;
  }
  std::string domain = split_address(req.targets[0].recipient).domain;
  std::vector<std::string> recipients;
  for (auto& t : req.targets) recipients.push_back(t.recipient);
  auto results = run_remote(mess.get(), domain, req.sender, recipients);
  for (std::size_t i = 0; i < req.targets.size(); ++i)
    write_all(1, spawn::encode(spawn::Report{req.targets[i].delnum, results[i].result, results[i].text}));
}

// tlsrpt(8) for the days before this one, beside the deliveries; its
// output goes to the log, never into the report pipe to send.
void start_tlsrpt() {
  pid_t pid = ::fork();
  if (pid != 0) {
    if (pid < 0) log::line("unable to fork for tlsrpt: {}", std::strerror(errno));
    return;
  }
  ::signal(SIGCHLD, SIG_DFL);  // tlsrpt waits for the inject it runs
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(2, 1) < 0) ::_exit(status::temporary);
  std::string path = conf::path("bin/tlsrpt");
  char* argv[] = {path.data(), nullptr};
  char* env[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  ::execve(argv[0], argv, env);
  log::line("unable to run {}: {}", path, std::strerror(errno));
  ::_exit(status::temporary);
}

}  // namespace

int main() {
  log::set_program("rspawn");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0))
    log::die(status::temporary, "refusing to run as root");
  ::signal(SIGCHLD, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  LineReader in(0, spawn::request_max);
  std::string line;
  long report_day = -1;
  for (;;) {
    auto r = in.next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) return 0;
    auto req = r == LineReader::Result::line ? spawn::decode_request(line) : std::nullopt;
    if (!req) {
      log::line("refused a malformed request from send");
      continue;
    }
    // TLS-RPT: the first remote delivery of each UTC day (and the first
    // after a start) sends the reports of the days before.
    long day = static_cast<long>(std::time(nullptr) / 86400);
    if (day != report_day) {
      report_day = day;
      start_tlsrpt();
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      report_all(*req, status::deferred, "unable to fork");
      continue;
    }
    if (pid == 0) {
      ::signal(SIGCHLD, SIG_DFL);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null < 0 || ::dup2(null, 0) < 0) {
        report_all(*req, status::deferred, "unable to open /dev/null");
        ::_exit(0);
      }
      ::close(null);
      deliver(*req);
      ::_exit(0);
    }
  }
}
