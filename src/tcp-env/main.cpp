// tcp-env: sets up the environment a program under inetd needs to know
// its client, the way tcpserver does, and runs it.
//
//   tcp-env [ -h | -H ] [ -r rules.cdb ] program [ arg ... ]
//
// inetd starts it with the accepted connection on descriptors 0 and 1. It
// sets PROTO=TCP, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT from
// getpeername and getsockname on descriptor 0, TCPREMOTEHOST from a reverse
// look-up (unless -H; -h asks for it, the default), removes TCPREMOTEINFO
// and TCPLOCALHOST (no ident look-ups), and execs program. With -r, the
// rules of a tcprules(1) database apply as under tcpserver: a deny rule
// closes the connection, and an allow rule's variables (RELAYCLIENT, ...)
// are set; a missing database means no rules. inetd gives the program the connection as descriptor 2 too, so
// that log lines would go to the client: when descriptor 2 is that socket,
// tcp-env points it at conf-home/bin/splogger instead (syslog, tagged with
// the program's name), or at /dev/null when splogger cannot be started.
// Exit 111 when descriptor 0 is no socket or the program cannot be run;
// 100 on a bad command line.
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mail/conf.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"
#include "mail/tcp_rules.hpp"

using namespace postern;

namespace {

bool numeric(const struct sockaddr_storage& sa, socklen_t len, std::string& ip, std::string& port) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const struct sockaddr*>(&sa), len, h, sizeof h, s, sizeof s,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  ip = h;
  if (ip.starts_with("::ffff:") && ip.find('.') != std::string::npos) ip = ip.substr(7);
  port = s;
  return true;
}

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Descriptor 2 becomes a pipe to splogger (or /dev/null).
void log_to_syslog(const std::string& tag) {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int p[2];
  if (::pipe(p) == 0) {
    pid_t pid = ::fork();
    if (pid == 0) {
      // Not the socket: the client must see the close when the program ends.
      ::dup2(p[0], 0);
      if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      ::close(p[0]);
      ::close(p[1]);
      std::string prog = conf::path("bin/splogger");
      ::execl(prog.c_str(), "splogger", tag.c_str(), static_cast<char*>(nullptr));
      ::_exit(status::temporary);
    }
    ::close(p[0]);
    if (pid > 0) {
      ::dup2(p[1], 2);
      ::close(p[1]);
      if (null >= 0) ::close(null);
      return;
    }
    ::close(p[1]);
  }
  if (null >= 0) {
    ::dup2(null, 2);
    ::close(null);
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("tcp-env");
  bool lookup = true;
  std::string rules;
  int opt;
  while ((opt = ::getopt(argc, argv, "+hHRr:")) != -1) {
    switch (opt) {
      case 'h': lookup = true; break;
      case 'H': lookup = false; break;
      case 'R': break;  // no ident look-ups, ever
      case 'r': rules = optarg; break;
      default: log::die(status::permanent, "usage: tcp-env [ -h | -H ] [ -r rules.cdb ] program [ arg ... ]");
    }
  }
  if (optind >= argc) log::die(status::permanent, "usage: tcp-env [ -h | -H ] [ -r rules.cdb ] program [ arg ... ]");

  struct sockaddr_storage peer {}, self {};
  socklen_t plen = sizeof peer, slen = sizeof self;
  if (::getpeername(0, reinterpret_cast<struct sockaddr*>(&peer), &plen) != 0 ||
      ::getsockname(0, reinterpret_cast<struct sockaddr*>(&self), &slen) != 0)
    log::die(status::temporary, std::string("descriptor 0 is not a connected socket: ") + std::strerror(errno));
  std::string rip, rport, lip, lport;
  if (!numeric(peer, plen, rip, rport) || !numeric(self, slen, lip, lport))
    log::die(status::temporary, "unable to print the socket addresses");
  ::setenv("PROTO", "TCP", 1);
  ::setenv("TCPREMOTEIP", rip.c_str(), 1);
  ::setenv("TCPREMOTEPORT", rport.c_str(), 1);
  ::setenv("TCPLOCALIP", lip.c_str(), 1);
  ::setenv("TCPLOCALPORT", lport.c_str(), 1);
  ::unsetenv("TCPREMOTEINFO");
  // Only a rule may grant relaying, never an environment inetd passed on.
  ::unsetenv("RELAYCLIENT");
  ::unsetenv("TCPLOCALHOST");
  ::unsetenv("TCPREMOTEHOST");
  if (lookup) {
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<struct sockaddr*>(&peer), plen, host, sizeof host, nullptr, 0,
                      NI_NAMEREQD) == 0)
      ::setenv("TCPREMOTEHOST", host, 1);
  }
  if (same_file(0, 2)) {
    std::string tag = argv[optind];
    if (auto slash = tag.rfind('/'); slash != std::string::npos) tag = tag.substr(slash + 1);
    log_to_syslog(tag);
  }
  if (!rules.empty() && !tcp_rules::apply(rules, rip)) {
    log::line("refused a connection from {} by {}", rip, rules);
    return status::ok;
  }
  ::execvp(argv[optind], argv + optind);
  log::die(status::temporary, std::string("unable to run ") + argv[optind] + ": " + std::strerror(errno));
}
