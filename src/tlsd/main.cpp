// tlsd: TLS in front of a protocol program, so that no program that parses
// a client's commands can read a private key (tlsd(8)).
//
//   tlsd [-i] [-u user] prog [args...]
//
// Started by tcpserver, inetd or systemd as root, with the client's socket
// on 0 and 1. Before reading a byte it makes two socketpairs (data, a
// stream, and ctl, packets) and forks:
//   - the child gets data as 0 and 1 and ctl as descriptor 4 (TLSCTLFD=4;
//     never 3, checkpassword's), TLSMODE=implicit (-i) or starttls, and
//     TLSREADY=1 when control/tls/default.pem exists (stat'ed as root: the
//     programs cannot look in control/tls); with -u it becomes user (uid
//     and primary gid only, as tcpserver -u/-g), then execs prog (a name
//     without a slash is conf-home/bin/prog);
//   - the parent becomes the TLS user (conf-users' tls, posternt), the only
//     one that can read control/tls and conf-home/tls, reads the
//     certificates, and relays (relay.cpp): TLS first with -i, else plain
//     until prog asks for STARTTLS on ctl.
// Not started as root, or in a single-user instance, everything runs as
// the caller. Trusts its command line, its environment (tcpserver's) and
// the files in conf-home; nothing from the client. Exit: prog's status
// when it ended first, 0 when the client or a failed handshake ended the
// connection, 100 for a bad command line, 111 when it cannot start.
#include <fcntl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/privilege.hpp"
#include "mail/status.hpp"
#include "tlsd.hpp"

using namespace postern;

namespace {

constexpr int ctl_fd = 4;

[[noreturn]] void usage() { log::die(status::permanent, "usage: tlsd [-i] [-u user] prog [args...]"); }

[[noreturn]] void run_program(char** argv, int data, int ctl, bool implicit, bool ready, const struct passwd* user) {
  // Out of the way of 0, 1 and 4 first, whatever numbers they got.
  int high = ::fcntl(ctl, F_DUPFD, 10);
  if (high < 0 || ::dup2(data, 0) != 0 || ::dup2(data, 1) != 1 || ::dup2(high, ctl_fd) != ctl_fd)
    log::die(status::temporary, std::string("cannot set up descriptors: ") + std::strerror(errno));
  ::close(3);
  ::close_range(ctl_fd + 1, ~0U, 0);
  ::setenv("TLSCTLFD", std::to_string(ctl_fd).c_str(), 1);
  ::setenv("TLSMODE", implicit ? "implicit" : "starttls", 1);
  if (ready) ::setenv("TLSREADY", "1", 1);
  else ::unsetenv("TLSREADY");
  if (user && !become(user->pw_uid, user->pw_gid))
    log::die(status::temporary, std::string("cannot become ") + user->pw_name + ": " + std::strerror(errno));
  // A bare name is one of postern's programs: conf-home/bin, never PATH
  // (tlsd runs as root).
  std::string path = std::strchr(argv[0], '/') ? argv[0] : conf::path(std::string("bin/") + argv[0]);
  ::execv(path.c_str(), argv);
  log::die(status::temporary, "cannot run " + path + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("tlsd");
  bool implicit = false;
  const char* user_name = nullptr;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string_view a(argv[i]);
    if (a == "-i") implicit = true;
    else if (a == "-u" && i + 1 < argc) user_name = argv[++i];
    else if (a == "--") {
      ++i;
      break;
    } else usage();
  }
  if (i >= argc) usage();
  bool root = ::geteuid() == 0 && !conf::single_user;
  const struct passwd* user = nullptr;
  if (user_name && root) {
    user = ::getpwnam(user_name);
    if (!user) log::die(status::temporary, std::string("no such user: ") + user_name);
  }
  // The programs may not look into control/tls; tlsd, still root, may.
  struct stat st {};
  bool ready = ::stat(tlsd::default_certificate().c_str(), &st) == 0;

  // Before the fork: a bad setting starts no program.
  auto handshake = control::number("timeouttlsdhandshake", 60);
  auto idle = control::number("timeouttlsd", 3600);
  if (!handshake || *handshake == 0 || *handshake > 3600)
    log::die(status::temporary, "control/timeouttlsdhandshake: not a number of seconds from 1 to 3600");
  if (!idle || *idle == 0 || *idle > 86400)
    log::die(status::temporary, "control/timeouttlsd: not a number of seconds from 1 to 86400");

  int data[2], ctl[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) != 0 ||
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0)
    log::die(status::temporary, std::string("socketpair: ") + std::strerror(errno));
  pid_t child = ::fork();
  if (child < 0) log::die(status::temporary, std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    // dup2 clears close-on-exec on the copies the program keeps.
    run_program(argv + i, data[1], ctl[1], implicit, ready, user);
  }
  ::close(data[1]);
  ::close(ctl[1]);
  std::signal(SIGPIPE, SIG_IGN);

  tlsd::Session s;
  s.data = data[0];
  s.ctl = ctl[0];
  s.child = child;
  s.implicit = implicit;
  s.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  const char* ip = std::getenv("TCPREMOTEIP");
  s.remote_ip = ip && *ip ? log::printable(ip, 64) : "unknown";
  if (root && !become_user(conf::user_tls))
    log::die(status::temporary, std::string("cannot become ") + conf::user_tls + ": " + std::strerror(errno));
  s.handshake_seconds = static_cast<int>(*handshake);
  s.idle_seconds = static_cast<int>(*idle);
  return tlsd::serve(s);
}
