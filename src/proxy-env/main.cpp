// proxy-env: lets smtpd, pop3d and imapd behind HAProxy (or any proxy that
// speaks the PROXY protocol, versions 1 and 2) see the client the proxy
// accepted, not the proxy:
//
//   proxy-env [ -r rules.cdb ] program [ arg ... ]
//
// tcpserver (or tcp-env) runs it with the connection on descriptors 0 and
// 1 and TCPREMOTEIP set. When TCPREMOTEIP is one of the proxies listed in
// control/proxyfrom (an address a line, or a prefix ending in '.' or ':'),
// the connection must begin with a PROXY header: it is read, and
// TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP and TCPLOCALPORT become the
// client's and the address it connected to; PROXYREMOTEIP keeps the
// proxy's, and TCPREMOTEHOST and TCPREMOTEINFO (the proxy's) go. A
// connection from anywhere else is a client's own, and is left as it is.
// With -r, the rules of a tcprules(1) database then apply to the client's
// address as tcpserver would apply them (deny, RELAYCLIENT, ...). Then it
// runs program.
//
// The header comes from the network, so it is read and parsed by a child
// that is posternd (not root, whatever proxy-env runs as), reading exactly
// the header's bytes and no byte of the client's own; the parent takes the
// child's answer (four fields, bounded, each checked again) and decides.
// A listed proxy that sends no header, or a bad one, or none within 10
// seconds, gets the connection closed and a log line. Exit 111 then, or
// when program cannot be run; 100 on a bad command line.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/proxy_header.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/privilege.hpp"
#include "mail/status.hpp"
#include "mail/tcp_rules.hpp"

using namespace postern;

namespace {

constexpr unsigned header_seconds = 10;

[[noreturn]] void usage() { log::die(status::permanent, "usage: proxy-env [ -r rules.cdb ] program [ arg ... ]"); }

bool listed(const std::vector<std::string>& proxies, const std::string& ip) {
  for (auto& p : proxies)
    if (p == ip || (!p.empty() && (p.back() == '.' || p.back() == ':') && ip.starts_with(p))) return true;
  return false;
}

// The child: posternd, reads the header off descriptor 0 and writes
// "remote\0rport\0local\0lport\0" (or "L" for the proxy's own connection,
// or "E" and why) to fd.
[[noreturn]] void read_header(int fd) {
  // Under root (imapd, pop3d): posternd. Already someone else (smtpd
  // under tcpserver -u): stays so.
  if (::geteuid() == 0 && !become_user(conf::user_daemon)) {
    write_all(fd, std::string("E") + "cannot become " + conf::user_daemon);
    std::_Exit(status::temporary);
  }
  ::alarm(header_seconds);
  std::string got;
  for (;;) {
    auto r = proxy_header::parse(got);
    if (r.status == proxy_header::Result::Status::bad) {
      write_all(fd, "E" + r.why);
      std::_Exit(0);
    }
    if (r.status == proxy_header::Result::Status::done) {
      if (!r.proxied)
        write_all(fd, "L");
      else
        write_all(fd, r.remote_ip + '\0' + std::to_string(r.remote_port) + '\0' + r.local_ip + '\0' +
                          std::to_string(r.local_port) + '\0');
      std::_Exit(0);
    }
    std::string chunk(r.more, '\0');
    std::size_t have = 0;
    while (have < r.more) {
      ssize_t n = ::read(0, chunk.data() + have, r.more - have);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        write_all(fd, n == 0 ? "Ethe proxy closed before the header's end" : "Ea read failed");
        std::_Exit(0);
      }
      have += static_cast<std::size_t>(n);
    }
    got += chunk;
  }
}

bool an_address(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool a_port(const std::string& s) {
  return !s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == std::string::npos && std::stoul(s) <= 65535;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("proxy-env");
  std::string rules;
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "-r") == 0) {
    if (i + 1 >= argc) usage();
    rules = argv[i + 1];
    i += 2;
  }
  if (i >= argc) usage();
  const char* peer = std::getenv("TCPREMOTEIP");
  if (!peer) log::die(status::temporary, "TCPREMOTEIP is not set: run me under tcpserver or tcp-env");
  std::string proxy = peer;
  auto proxies = control::lines("proxyfrom");
  if (!proxies) log::die(status::temporary, "unable to read control/proxyfrom");

  if (listed(*proxies, proxy)) {
    int p[2];
    if (::pipe(p) != 0) log::die(status::temporary, "pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) log::die(status::temporary, "fork failed");
    if (pid == 0) {
      ::close(p[0]);
      read_header(p[1]);
    }
    ::close(p[1]);
    auto answer = read_all(p[0], 512);
    ::close(p[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!answer || answer->empty() || !WIFEXITED(st)) {
      log::line("no PROXY header from {} within {} seconds; connection closed", proxy, header_seconds);
      return status::temporary;
    }
    if ((*answer)[0] == 'E') {
      log::line("a bad PROXY header from {}: {}; connection closed", proxy, log::printable(answer->substr(1), 200));
      return status::temporary;
    }
    if ((*answer)[0] != 'L') {
      std::vector<std::string> f;
      for (std::size_t k = 0; k < answer->size() && f.size() < 5;) {
        auto nul = answer->find('\0', k);
        if (nul == std::string::npos) break;
        f.push_back(answer->substr(k, nul - k));
        k = nul + 1;
      }
      // The child is less trusted than we are: each field is checked again.
      if (f.size() != 4 || !an_address(f[0]) || !a_port(f[1]) || !an_address(f[2]) || !a_port(f[3])) {
        log::line("an unreadable answer about the PROXY header from {}; connection closed", proxy);
        return status::temporary;
      }
      ::setenv("PROXYREMOTEIP", proxy.c_str(), 1);
      ::setenv("TCPREMOTEIP", f[0].c_str(), 1);
      ::setenv("TCPREMOTEPORT", f[1].c_str(), 1);
      ::setenv("TCPLOCALIP", f[2].c_str(), 1);
      ::setenv("TCPLOCALPORT", f[3].c_str(), 1);
      ::unsetenv("TCPREMOTEHOST");
      ::unsetenv("TCPREMOTEINFO");
    }
  }
  if (!rules.empty()) {
    const char* ip = std::getenv("TCPREMOTEIP");
    if (!tcp_rules::apply(rules, ip)) {
      log::line("refused a connection from {} by {}", ip, rules);
      return status::temporary;
    }
  }
  ::execvp(argv[i], argv + i);
  log::die(status::temporary, std::string("unable to run ") + argv[i] + ": " + std::strerror(errno));
}
