// biff: the comsat notice (biff.hpp). The socket is non-blocking and UDP:
// sendto either queues the datagram at once or fails, so a dead or absent
// comsat costs a delivery nothing (an unconnected socket never even sees
// the ICMP "port unreachable").
#include "delivery/biff.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/log.hpp"
#include "mail/control.hpp"

namespace postern::delivery {

namespace {

// One warning per process: a broken control/biff would otherwise log on
// every delivery, and comsat is a nicety, not mail.
bool warned = false;

void warn_once(const std::string& text) {
  if (warned) return;
  warned = true;
  log::write_line("biff: " + log::printable(text, 300));
}

bool numeric(std::string_view host) {
  in_addr v4{};
  in6_addr v6{};
  std::string h(host);
  return ::inet_pton(AF_INET, h.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &v6) == 1;
}

}  // namespace

std::optional<BiffTarget> parse_biff_target(std::string_view text, std::string& why) {
  BiffTarget t;
  std::string_view host = text, port;
  bool has_port = false;
  if (text.starts_with('[')) {  // [::1] or [::1]:port
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      why = "control/biff: a [ without its ]";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    auto after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        why = "control/biff: junk after the ]";
        return std::nullopt;
      }
      port = after.substr(1);
      has_port = true;
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos && text.find(':') == colon) {
    host = text.substr(0, colon);  // one colon: host:port; more: a bare IPv6 address
    port = text.substr(colon + 1);
    has_port = true;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!numeric(host)) {
    why = "control/biff: \"" + std::string(text) + "\" is not localhost or an IP address (no names are looked up)";
    return std::nullopt;
  }
  t.host = std::string(host);
  if (has_port) {
    unsigned value = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), value);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || value == 0 || value > 65535) {
      why = "control/biff: \"" + std::string(port) + "\" is not a port number";
      return std::nullopt;
    }
    t.port = static_cast<std::uint16_t>(value);
  }
  return t;
}

std::string biff_message(std::string_view user, std::uint64_t offset, std::string_view path, std::string_view home) {
  std::string full;
  if (!path.starts_with('/')) {
    full = home;
    if (path.starts_with("./")) path.remove_prefix(2);
    if (!full.ends_with('/')) full += '/';
  }
  full += path;
  return std::string(user) + "@" + std::to_string(offset) + ":" + full;
}

void notify_biff(std::string_view user, std::uint64_t offset, std::string_view path, std::string_view home) {
  std::string why;
  auto setting = control::line("biff", "", why);
  if (!setting) {
    warn_once(why);
    return;
  }
  if (setting->empty()) return;  // no comsat: most hosts
  auto target = parse_biff_target(*setting, why);
  if (!target) {
    warn_once(why);
    return;
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, target->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(target->port);
    len = sizeof *v4;
  } else {
    ::inet_pton(AF_INET6, target->host.c_str(), &v6->sin6_addr);
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(target->port);
    len = sizeof *v6;
  }
  std::string message = biff_message(user, offset, path, home);
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    warn_once(std::string("unable to make a UDP socket: ") + std::strerror(errno));
    return;
  }
  if (::sendto(fd, message.data(), message.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), len) < 0)
    warn_once("unable to notify comsat at " + *setting + ": " + std::strerror(errno));
  ::close(fd);
}

}  // namespace postern::delivery
