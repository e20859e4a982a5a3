// lspawn: runs each local delivery that send asks for, as the recipient's
// user, and reports the result.
//
// Started by start as root (the only postern program besides start that
// keeps root), with send's requests on fd 0 and the reports to send on fd 1
// (see spawn_protocol.hpp); its one argument is the default delivery given
// to start. For each request it forks a worker (worker.cpp) that looks the
// user up as posternp and delivers as that user, each in a child of its
// own, without exec, and writes one report line.
// The parent only reads requests and never parses a byte that a child
// wrote; concurrency is send's to limit. When send closes fd 0, lspawn exits
// and the workers still running finish on their own.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/spawn_protocol.hpp"
#include "mail/status.hpp"
#include "worker.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("lspawn");
  if (argc != 2) log::die(status::temporary, "usage: lspawn defaultdelivery");
  const std::string default_delivery = argv[1];
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
      // The worker's children must not wait on the parent's SIGCHLD rule,
      // nor hold send's requests: the lookup child gets /dev/null as fd 0.
      ::signal(SIGCHLD, SIG_DFL);
      auto report = lspawn::deliver(*req, default_delivery);
      write_all(1, spawn::encode(report));
      ::_exit(status::ok);
    }
  }
}
