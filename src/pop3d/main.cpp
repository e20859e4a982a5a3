// pop3d: the POP3 server (RFC 1939, 2449, 5034), run once for each
// connection by tcpserver or inetd with the client on descriptors 0 and 1.
//
//   pop3d [-c checkpassword] [-m maildir]
//
// Started as root (the simplest line: tcpserver 0 110 pop3d), it splits at
// once into three parts, so that no code reading the network runs as root:
//
//   pop3d (root) ── only forks checkpassword, reads one bounded request
//     ├── pre-auth stage (posternd): greeting, CAPA, USER/PASS, APOP,
//     │     AUTH PLAIN; sends "user\0password\0timestamp\0" up a socket
//     └── checkpassword (root, short) ─exec as the user─► pop3d-mailbox
//
// In single-user mode, or when started by someone else than root, every
// part runs as the invoking user. See pop3d(8).
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

#include "conf.hpp"
#include "control.hpp"
#include "io.hpp"
#include "log.hpp"
#include "pop3d.hpp"
#include "privilege.hpp"
#include "unique.hpp"

using namespace postern;

namespace {

[[noreturn]] void temp_fail(const std::string& why) {
  write_all(1, "-ERR [SYS/TEMP] temporary problem; try again later\r\n");
  log::die(111, why);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("pop3d");
  std::signal(SIGPIPE, SIG_IGN);
  // No core files: a dump of the parent or of checkpassword could hold a
  // password.
  struct rlimit none {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);

  pop3d::Config cfg;
  cfg.checkpassword = conf::path("bin/checkpassword");
  cfg.mailbox = conf::path("bin/pop3d-mailbox");
  cfg.maildir = "Maildir";
  int opt;
  while ((opt = ::getopt(argc, argv, "c:m:")) != -1) {
    if (opt == 'c')
      cfg.checkpassword = optarg;
    else if (opt == 'm')
      cfg.maildir = optarg;
    else
      log::die(2, "usage: pop3d [-c checkpassword] [-m maildir]");
  }
  if (optind != argc) log::die(2, "usage: pop3d [-c checkpassword] [-m maildir]");

  auto me = control::line("me", host_name());
  if (!me) temp_fail("cannot read control/me");
  cfg.me = *me;
  auto timeout = control::number("timeoutpop3d", 600);
  if (!timeout || *timeout == 0 || *timeout > 86400) temp_fail("bad control/timeoutpop3d");
  cfg.timeout = static_cast<int>(*timeout);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) temp_fail("socketpair failed");
  pid_t child = ::fork();
  if (child < 0) temp_fail("fork failed");
  if (child == 0) {
    ::close(sv[0]);
    if (!conf::single_user && ::geteuid() == 0) {
      if (!become_user(conf::user_daemon))
        temp_fail(std::string("cannot become ") + conf::user_daemon + ": " + std::strerror(errno));
    }
    if (::chdir("/") != 0) temp_fail("cannot change to /");
    pop3d::preauth(cfg, sv[1]);
  }
  ::close(sv[1]);
  pop3d::parent(cfg, sv[0], child);
}
