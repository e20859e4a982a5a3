// imapd: the IMAP server (RFC 3501 and the extensions in imapd(8)), run
// once for each connection by tcpserver or inetd with the client on
// descriptors 0 and 1:
//
//   imapd [-c checkpassword] [-m maildir]
//
// Started as root (tcpserver 0 143 imapd) it splits as pop3d does, so no
// code reading the network runs as root:
//
//   imapd (root) -- only forks checkpassword, reads one bounded request
//     |-- pre-auth stage (posternd): greeting, CAPABILITY, LOGIN,
//     |     AUTHENTICATE PLAIN; sends "tag\n" "user\0password\0\0" up a socket
//     `-- checkpassword (root, short) -exec as the user-> imapd-mailbox
//
// In single-user mode, or when started by someone else than root, every
// part runs as the invoking user. See imapd(8).
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
#include "imapd.hpp"
#include "privilege.hpp"

using namespace postern;

namespace {

[[noreturn]] void temp_fail(const std::string& why) {
  write_all(1, "* BYE [UNAVAILABLE] temporary problem; try again later\r\n");
  log::die(111, why);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("imapd");
  std::signal(SIGPIPE, SIG_IGN);
  // No core files: a dump of the parent or of checkpassword could hold a
  // password.
  struct rlimit none {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);

  imapd::Config cfg;
  cfg.checkpassword = conf::path("bin/checkpassword");
  cfg.mailbox = conf::path("bin/imapd-mailbox");
  cfg.maildir = "Maildir";
  int opt;
  while ((opt = ::getopt(argc, argv, "c:m:")) != -1) {
    if (opt == 'c')
      cfg.checkpassword = optarg;
    else if (opt == 'm')
      cfg.maildir = optarg;
    else
      log::die(2, "usage: imapd [-c checkpassword] [-m maildir]");
  }
  if (optind != argc) log::die(2, "usage: imapd [-c checkpassword] [-m maildir]");

  auto timeout = control::number("timeoutimapd", 1800);
  if (!timeout || *timeout == 0 || *timeout > 86400) temp_fail("bad control/timeoutimapd");
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
    imapd::preauth(cfg, sv[1]);
  }
  ::close(sv[1]);
  imapd::parent(cfg, sv[0], child);
}
