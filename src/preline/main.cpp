// preline: runs a program with the message on its standard input, after
// the lines that programs written for an mbox world expect on top:
//
//   preline [-dfr] program [args...]
//
// From local's environment it writes UFLINE (the mbox "From " line),
// RPLINE (Return-Path:) and DTLINE (Delivered-To:), then the message from
// its own standard input, into a pipe to program. -f leaves out the From
// line, -r the Return-Path, -d the Delivered-To. So `|preline procmail` in a
// .qmail file hands procmail what it gets from a traditional MTA.
//
// Exits with program's exit code, so local judges procmail's own: 0
// delivered, 75 (EX_TEMPFAIL) temporary, 77 and the other codes local
// counts as permanent bounce. 111 when preline itself fails; 100 on bad usage.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("preline");
  bool from = true, return_path = true, delivered_to = true;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    for (const char* p = argv[i] + 1; *p; ++p) {
      if (*p == 'f') from = false;
      else if (*p == 'r') return_path = false;
      else if (*p == 'd') delivered_to = false;
      else log::die(status::permanent, "usage: preline [-dfr] program [args...]");
    }
  }
  if (i >= argc) log::die(status::permanent, "usage: preline [-dfr] program [args...]");

  std::string head;
  auto add = [&head](bool wanted, const char* var) {
    const char* v = std::getenv(var);
    if (!wanted) return;
    if (!v) log::die(status::temporary, std::string(var) + " is not set (preline runs from a .qmail file)");
    head += v;
  };
  add(from, "UFLINE");
  add(return_path, "RPLINE");
  add(delivered_to, "DTLINE");

  int p[2];
  if (::pipe(p) != 0) log::die(status::temporary, "unable to create a pipe");
  pid_t pid = ::fork();
  if (pid < 0) log::die(status::temporary, "unable to fork");
  if (pid == 0) {
    ::close(p[1]);
    if (::dup2(p[0], 0) < 0) ::_exit(status::temporary);
    ::close(p[0]);
    ::execvp(argv[i], argv + i);
    log::die(status::temporary, std::string("unable to run ") + argv[i] + ": " + std::strerror(errno));
  }
  ::close(p[0]);
  ::signal(SIGPIPE, SIG_IGN);
  // A program that stops reading early (procmail on a match) is not an error.
  bool ok = write_all(p[1], head);
  char buf[65536];
  while (ok) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ok = write_all(p[1], std::string_view(buf, static_cast<std::size_t>(n)));
  }
  ::close(p[1]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) log::die(status::temporary, "unable to wait for the program");
  if (WIFSIGNALED(st)) log::die(status::temporary, std::string(argv[i]) + " was killed by a signal");
  return WEXITSTATUS(st);
}
