// tls_channel: see tls_channel.hpp. The packets are small and few, so
// every wait is a poll() with the caller's timeout, and nothing here keeps
// state beyond the Channel.
#include "base/tls_channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "base/netio.hpp"

namespace postern::tls {

namespace {

// A value tlsd may send: printable ASCII, spaces only where a name has them.
bool printable(std::string_view v, bool spaces) {
  for (unsigned char c : v)
    if (c < 32 || c > 126 || (c == ' ' && !spaces)) return false;
  return true;
}

bool yes_no(std::string_view v, bool& out) {
  if (v == "yes") out = true;
  else if (v == "no") out = false;
  else return false;
  return true;
}

}  // namespace

std::optional<Facts> parse_facts(std::string_view packet) {
  if (packet.size() > max_packet) return std::nullopt;
  Facts f;
  bool first = true;
  while (!packet.empty()) {
    std::size_t nl = packet.find('\n');
    std::string_view line = packet.substr(0, nl);
    packet.remove_prefix(nl == std::string_view::npos ? packet.size() : nl + 1);
    if (first) {
      if (line != "ok") return std::nullopt;
      first = false;
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    bool named = key == "peer_subject" || key == "peer_issuer";
    if (!printable(key, false) || !printable(value, named)) return std::nullopt;
    if (key == "version") f.version = value;
    else if (key == "cipher") f.cipher = value;
    else if (key == "sni") f.sni = value;
    else if (key == "peer_subject") f.peer_subject = value, f.peer_cert = true;
    else if (key == "peer_issuer") f.peer_issuer = value, f.peer_cert = true;
    else if (key == "peer_fingerprint") f.peer_fingerprint = value, f.peer_cert = true;
    else if (key == "bits") {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0 || n > 65536) return std::nullopt;
      f.bits = n;
    } else if (key == "resumed") {
      if (!yes_no(value, f.resumed)) return std::nullopt;
    } else if (key == "peer_verified") {
      if (!yes_no(value, f.peer_verified)) return std::nullopt;
    }
    // Other keys: a newer tlsd; ignored.
  }
  if (first) return std::nullopt;
  // A verification nobody asked for is no verification.
  if (!f.peer_cert) f.peer_verified = false;
  return f;
}

std::optional<Channel> Channel::from_environment() {
  const char* fd_s = std::getenv("TLSCTLFD");
  const char* mode = std::getenv("TLSMODE");
  if (!fd_s || !mode) return std::nullopt;
  std::string_view fv(fd_s);
  int fd = -1;
  auto [end, ec] = std::from_chars(fv.data(), fv.data() + fv.size(), fd);
  if (ec != std::errc() || end != fv.data() + fv.size() || fd < 4) return std::nullopt;
  std::string_view m(mode);
  if (m != "implicit" && m != "starttls") return std::nullopt;
  // The descriptor must still be tlsd's socket: a program that inherited
  // the environment but not the descriptor may have another file there.
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) return std::nullopt;
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return std::nullopt;
  const char* ready = std::getenv("TLSREADY");
  return Channel(fd, m == "implicit", ready && std::string_view(ready) == "1");
}

bool Channel::receive_facts(int timeout) {
  if (!wait_ready(fd_, POLLIN, timeout)) {
    error_ = errno == ETIMEDOUT ? "timeout" : "poll failed";
    return false;
  }
  char buf[max_packet + 1];
  ssize_t n;
  do n = ::recv(fd_, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    error_ = "tlsd is gone";
    return false;
  }
  std::string_view packet(buf, static_cast<std::size_t>(n));
  if (packet.starts_with("fail")) {
    packet.remove_prefix(4);
    while (!packet.empty() && packet.front() == ' ') packet.remove_prefix(1);
    while (!packet.empty() && packet.back() == '\n') packet.remove_suffix(1);
    error_ = printable(packet, true) ? std::string(packet) : "handshake failed";
    if (error_.empty()) error_ = "handshake failed";
    return false;
  }
  auto f = parse_facts(packet);
  if (!f) {
    error_ = "bad facts packet";
    return false;
  }
  facts_ = *f;
  return true;
}

bool Channel::wait_implicit(int timeout) {
  if (!implicit_ || used_) return active_;
  used_ = true;
  active_ = receive_facts(timeout);
  return active_;
}

bool Channel::start(int in_fd, std::function<void()> discard, int timeout) {
  if (!can_start()) {
    error_ = "STARTTLS not available";
    return false;
  }
  used_ = true;
  static constexpr std::string_view ask = "starttls";
  ssize_t n;
  do n = ::send(fd_, ask.data(), ask.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(ask.size())) {
    error_ = "tlsd is gone";
    return false;
  }
  if (!receive_facts(timeout)) return false;
  // Everything on in_fd now was sent by the client before the handshake
  // (tlsd relays nothing new until "go"): plaintext that must not count.
  char junk[16384];
  for (;;) {
    ssize_t r = ::recv(in_fd, junk, sizeof junk, MSG_DONTWAIT);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ENOTSOCK) {
      int fl = ::fcntl(in_fd, F_GETFL);
      if (fl < 0 || ::fcntl(in_fd, F_SETFL, fl | O_NONBLOCK) != 0) break;
      while (::read(in_fd, junk, sizeof junk) > 0) {
      }
      ::fcntl(in_fd, F_SETFL, fl);
    }
    break;
  }
  if (discard) discard();
  static constexpr std::string_view go = "go";
  do n = ::send(fd_, go.data(), go.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(go.size())) {
    error_ = "tlsd is gone";
    return false;
  }
  active_ = true;
  return true;
}

std::string describe(const Facts& f) {
  std::string bits = std::to_string(f.bits);
  return f.version + " with cipher " + f.cipher + " (" + bits + "/" + bits + " bits)";
}

}  // namespace postern::tls
