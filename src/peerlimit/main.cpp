// peerlimit: limits the connections one client address holds at once, in
// the chain between tcpserver (or inetd and tcp-env) and a protocol program:
//
//   peerlimit [ -n limit ] smtp|pop3|imap program [ arg ... ]
//
// tcpserver's -c counts every connection alike, so one address holding
// idle sockets can take all of them; peerlimit gives each address (each
// /64 for IPv6: one site's network) at most limit of its own. The limit is
// -n, else control/peerlimit<protocol> (smtp, pop3 or imap), else 10 for
// smtp and pop3 and 20 for imap (mail clients open several IMAP
// connections). The client's address comes from TCPREMOTEIP (tcpserver,
// tcp-env), else from the socket on descriptor 0; when there is none (a
// local pipe) program runs unlimited.
//
// A slot is a lock: an exclusive flock on conf-home/peerlimit/<protocol>/
// <address>.<n> for n below the limit. peerlimit takes the first free one,
// runs program as its child with the connection (the lock stays with
// peerlimit, close-on-exec, so nothing the session runs can keep it), and
// when program ends removes the file it holds and exits with program's
// status. The kernel releases a lock when its holder dies however it
// dies, so a crash leaves nothing to clean up but an empty file, reused
// by the next client of that address. When every slot is held it refuses
// in the protocol's own terms (421 4.7.0, -ERR [SYS/TEMP], * BYE
// [UNAVAILABLE]), logs one line and exits 0. It trusts its arguments and
// the environment tcpserver gives it; it fails open (runs program, logs
// why) when the lock directory cannot be used: a broken limit must not
// stop mail. Exit 100 on a bad command line.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

constexpr unsigned long max_limit = 100000;

[[noreturn]] void usage() {
  log::die(status::permanent, "usage: peerlimit [ -n limit ] smtp|pop3|imap program [ arg ... ]");
}

// The key of an address: IPv4 as written, IPv6 as its /64 ("2001:db8:1:2::");
// nullopt when it is not an address (nothing to trust in a file name).
std::optional<std::string> key_of(const std::string& ip) {
  struct in_addr a4 {};
  if (::inet_pton(AF_INET, ip.c_str(), &a4) == 1) {
    char buf[INET_ADDRSTRLEN];
    return std::string(::inet_ntop(AF_INET, &a4, buf, sizeof buf));
  }
  struct in6_addr a6 {};
  if (::inet_pton(AF_INET6, ip.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      struct in_addr v4 {};
      std::memcpy(&v4, a6.s6_addr + 12, 4);
      char buf[INET_ADDRSTRLEN];
      return std::string(::inet_ntop(AF_INET, &v4, buf, sizeof buf));
    }
    std::memset(a6.s6_addr + 8, 0, 8);
    char buf[INET6_ADDRSTRLEN];
    return std::string(::inet_ntop(AF_INET6, &a6, buf, sizeof buf)) + "_64";
  }
  return std::nullopt;
}

// The client's address: tcpserver's variable, else the socket's peer.
std::string client_ip() {
  if (const char* ip = std::getenv("TCPREMOTEIP"); ip && *ip) return ip;
  struct sockaddr_storage peer {};
  socklen_t len = sizeof peer;
  if (::getpeername(0, reinterpret_cast<struct sockaddr*>(&peer), &len) != 0) return "";
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<struct sockaddr*>(&peer), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return "";
  return host;
}

enum class Take { held, busy, error };

// Takes slot path if it is free. A holder removes its file when done, so
// a lock won on a file that is no longer the one at path (removed, or
// removed and made again) is no slot: it looks again.
Take take(const std::string& path, int& fd) {
  for (int tries = 0; tries < 10; ++tries) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Take::error;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      ::close(fd);
      if (e == EWOULDBLOCK) return Take::busy;
      errno = e;
      return Take::error;
    }
    struct stat held {}, now {};
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino)
      return Take::held;
    ::close(fd);
  }
  return Take::busy;
}

std::string refusal(std::string_view protocol) {
  if (protocol == "smtp") return "421 4.7.0 too many connections from your address; try again later\r\n";
  if (protocol == "pop3") return "-ERR [SYS/TEMP] too many connections from your address; try again later\r\n";
  return "* BYE [UNAVAILABLE] too many connections from your address; try again later\r\n";
}

[[noreturn]] void run(char** argv) {
  ::execvp(argv[0], argv);
  log::die(status::temporary, std::string("unable to run ") + argv[0] + ": " + std::strerror(errno));
}

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("peerlimit");
  std::optional<unsigned long> limit;
  int opt;
  while ((opt = ::getopt(argc, argv, "+n:")) != -1) {
    if (opt != 'n') usage();
    char* end = nullptr;
    errno = 0;
    unsigned long n = std::strtoul(optarg, &end, 10);
    if (errno || end == optarg || *end || n == 0 || n > max_limit) usage();
    limit = n;
  }
  if (argc - optind < 2) usage();
  std::string protocol = argv[optind];
  if (protocol != "smtp" && protocol != "pop3" && protocol != "imap") usage();
  char** program = argv + optind + 1;

  if (!limit) {
    auto n = control::number("peerlimit" + protocol, protocol == "imap" ? 20 : 10);
    if (!n || *n == 0 || *n > max_limit) {
      log::line("control/peerlimit{} is unreadable or out of range; no limit applies", protocol);
      run(program);
    }
    limit = *n;
  }
  std::string ip = client_ip();
  if (ip.empty()) run(program);  // no network client: nothing to count
  auto key = key_of(ip);
  if (!key) {
    log::line("{} is not an address; no limit applies", log::printable(ip, 64));
    run(program);
  }

  std::string dir = conf::path("peerlimit/" + protocol);
  int fd = -1;
  std::string path;
  bool held = false;
  for (unsigned long slot = 0; slot < *limit && !held; ++slot) {
    path = dir + "/" + *key + "." + std::to_string(slot);
    Take t = take(path, fd);
    if (t == Take::error) {
      log::line("unable to use {}: {}; no limit applies", path, std::strerror(errno));
      run(program);
    }
    held = t == Take::held;
  }
  if (!held) {
    std::string text = refusal(protocol);
    [[maybe_unused]] auto n = ::write(1, text.data(), text.size());
    log::line("refused {}: it holds {} connections already (the limit, control/peerlimit{})", ip, *limit, protocol);
    return status::ok;
  }

  std::signal(SIGPIPE, SIG_IGN);
  pid_t child = ::fork();
  if (child < 0) {
    log::line("unable to fork: {}; no limit applies", std::strerror(errno));
    run(program);
  }
  if (child == 0) run(program);
  // Only the session may hold the connection: the client must see it end
  // when program ends, whatever peerlimit does after.
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0 && same_file(0, 2)) ::dup2(null, 2);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::close(null);
  }
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  ::unlink(path.c_str());  // still locked: no one else holds this file now
  return WIFEXITED(st) ? WEXITSTATUS(st) : status::temporary;
}
