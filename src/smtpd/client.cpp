// client: who is talking to smtpd. tcpserver (or tcp-env under inetd) puts
// the client's address in TCPREMOTEIP and its reverse name in
// TCPREMOTEHOST, and tcpserver's rules may set RELAYCLIENT. Without
// TCPREMOTEIP, a socket on descriptor 0 still names its peer (inetd with no
// tcp-env); anything else is a local caller (sendmail -bs), who could run
// inject anyway and so may relay. And, before anything is read from the
// client, smtpd leaves root (leave_root).
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/privilege.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(log::printable(v, 255)) : std::string();
}

}  // namespace

std::string Client::name() const { return local ? "local uid " + std::to_string(uid) : ip; }

Client identify_client(bool local_submission) {
  Client c;
  if (const char* r = std::getenv("RELAYCLIENT")) c.relayclient = std::string(r);
  if (std::getenv("TCPREMOTEIP")) {
    c.ip = env("TCPREMOTEIP");
    c.host = env("TCPREMOTEHOST");
    c.info = env("TCPREMOTEINFO");
    return c;
  }
  struct sockaddr_storage sa {};
  socklen_t len = sizeof sa;
  if (::getpeername(0, reinterpret_cast<struct sockaddr*>(&sa), &len) == 0) {
    // A socket with no tcpserver or tcp-env in front: no rules were
    // applied, so whatever RELAYCLIENT the environment holds is not a grant.
    c.relayclient.reset();
    // inetd without tcp-env: descriptor 2 is the client too, and log
    // lines are not for it.
    struct stat s0 {}, s2 {};
    if (::fstat(0, &s0) == 0 && ::fstat(2, &s2) == 0 && s0.st_ino == s2.st_ino && s0.st_dev == s2.st_dev) {
      int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0 && null != 2) {
        ::dup2(null, 2);
        ::close(null);
      }
    }
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<struct sockaddr*>(&sa), len, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST) == 0)
      c.ip = host;
    else
      c.ip = "unknown";
    return c;
  }
  if (!local_submission) {
    // Pipes with no address: a wrapper lost the environment, or a proxy.
    // Never trusted: such a client is remote and unknown.
    c.ip = "unknown";
    return c;
  }
  c.local = true;
  c.uid = ::getuid();
  if (!c.relayclient) c.relayclient = "";
  return c;
}

bool leave_root(const Client& client, std::string& why) {
  if (conf::single_user || (::getuid() != 0 && ::geteuid() != 0)) return true;
  if (!client.local) {
    why = std::string("refusing to serve ") + client.name() + " as root: run smtpd under tcpserver -u and -g (" +
          conf::user_daemon + ", " + conf::group_nofiles + ")";
    return false;
  }
  // Root's own dialogue, but perhaps a pipe from a network proxy: parsed
  // with the daemon's rights all the same. Received: still names uid 0.
  if (!become_user(conf::user_daemon)) {
    why = std::string("unable to become ") + conf::user_daemon + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace postern::smtpd
