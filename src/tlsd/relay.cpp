// relay: moves bytes between the client (descriptors 0 and 1: plain, or TLS
// once it is on) and the protocol program (the data socket), and does the
// handshake when the connection starts (-i) or when the program asks on
// ctl (STARTTLS). Non-blocking throughout, one poll() loop; each direction
// holds at most `cap` bytes, so a side that stops reading stops the other
// side's reads (backpressure, bounded memory). Trusts the program (its own
// child) to follow tls_channel's protocol; trusts nothing from the client.
// At STARTTLS every client byte not yet handed to the program is dropped,
// and nothing more reaches the program until it says "go" (CVE-2011-0411).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "base/log.hpp"
#include "tlsd.hpp"

namespace postern::tlsd {

namespace {

constexpr std::size_t cap = 64 * 1024;
enum class Io { done, want_read, want_write, eof, error };

Io ssl_result(SSL* ssl, int r) {
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return Io::want_read;
    case SSL_ERROR_WANT_WRITE: return Io::want_write;
    case SSL_ERROR_ZERO_RETURN: return Io::eof;
    case SSL_ERROR_SYSCALL: return errno == 0 ? Io::eof : Io::error;
    default: return Io::error;
  }
}

// Sends one packet on ctl; false when the program is gone.
bool send_packet(int ctl, std::string_view p) {
  ssize_t n;
  do n = ::send(ctl, p.data(), p.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(p.size());
}

// Waits until fd has events or the deadline passes.
bool wait_fd(int fd, short events, std::time_t deadline) {
  for (;;) {
    long left = static_cast<long>(deadline - std::time(nullptr));
    if (left <= 0) return false;
    struct pollfd p {fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left * 1000));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

class Relay {
 public:
  explicit Relay(Session& s) : s_(s) {}
  int run();

 private:
  bool client_hello_waiting();
  bool start_tls();
  bool upgrade();
  bool handshake(std::string& why);
  Io net_read(char* buf, std::size_t n, std::size_t& got);
  Io net_write(std::size_t& put);
  void on_ctl();
  void finish();

  Session& s_;
  SSL* ssl_ = nullptr;
  std::string to_prog_, to_net_;
  std::size_t retry_len_ = 0;  // SSL_write wants the same length again
  bool net_eof_ = false, prog_eof_ = false, prog_shut_ = false, prog_gone_ = false;
  bool ctl_open_ = true, child_gone_ = false, over_ = false;
  bool holding_ = false;
  std::time_t hold_until_ = 0;
  int exit_code_ = 0;
};

Io Relay::net_read(char* buf, std::size_t n, std::size_t& got) {
  if (ssl_) {
    ERR_clear_error();
    int r = SSL_read_ex(ssl_, buf, n, &got);
    return r == 1 ? Io::done : ssl_result(ssl_, r);
  }
  ssize_t r = ::read(0, buf, n);
  if (r > 0) return got = static_cast<std::size_t>(r), Io::done;
  if (r == 0) return Io::eof;
  return errno == EAGAIN || errno == EINTR ? Io::want_read : Io::error;
}

Io Relay::net_write(std::size_t& put) {
  std::size_t len = retry_len_ ? retry_len_ : to_net_.size();
  if (ssl_) {
    ERR_clear_error();
    int r = SSL_write_ex(ssl_, to_net_.data(), len, &put);
    if (r == 1) return retry_len_ = 0, Io::done;
    Io io = ssl_result(ssl_, r);
    if (io == Io::want_read || io == Io::want_write) retry_len_ = len;
    return io;
  }
  ssize_t r = ::send(1, to_net_.data(), len, MSG_NOSIGNAL);
  if (r < 0 && errno == ENOTSOCK) r = ::write(1, to_net_.data(), len);
  if (r >= 0) return put = static_cast<std::size_t>(r), Io::done;
  return errno == EAGAIN || errno == EINTR ? Io::want_write : Io::error;
}

bool Relay::handshake(std::string& why) {
  std::time_t deadline = std::time(nullptr) + s_.handshake_seconds;
  for (;;) {
    ERR_clear_error();
    int r = SSL_accept(ssl_);
    if (r == 1) return true;
    int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      if (e == SSL_ERROR_SSL) why = openssl_error();
      else if (e == SSL_ERROR_SYSCALL && errno != 0) why = std::strerror(errno);
      else why = "the client closed the connection";
      return false;
    }
    bool in = e == SSL_ERROR_WANT_READ;
    if (!wait_fd(in ? 0 : 1, in ? POLLIN : POLLOUT, deadline)) {
      why = "timeout";
      return false;
    }
  }
}

// The handshake and the facts; false (logged, and told to the program
// when it can hear it) when there is no TLS.
bool Relay::start_tls() {
  load_ticket_keys();
  std::string pem = default_certificate();
  SSL_CTX* ctx = make_context(pem);
  if (!ctx) {
    log::line("no usable certificate ({}): refusing TLS to {}", pem, s_.remote_ip);
    send_packet(s_.ctl, "fail no certificate");
    return false;
  }
  ssl_ = SSL_new(ctx);
  std::string why;
  if (!ssl_ || SSL_set_rfd(ssl_, 0) != 1 || SSL_set_wfd(ssl_, 1) != 1 || !handshake(why)) {
    log::line("TLS handshake failed with {}: {}", s_.remote_ip, why.empty() ? openssl_error() : why);
    send_packet(s_.ctl, "fail handshake");
    return false;
  }
  return send_packet(s_.ctl, facts_packet(ssl_));
}

// STARTTLS: what the program wrote before asking (its go-ahead reply)
// goes out in plain; what the client sent and the program has not got is
// dropped; then the handshake, the facts, and the program's "go".
bool Relay::upgrade() {
  to_prog_.clear();
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(s_.data, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    to_net_.append(buf, static_cast<std::size_t>(n));
  }
  std::time_t deadline = std::time(nullptr) + s_.handshake_seconds;
  while (!to_net_.empty()) {
    std::size_t put = 0;
    Io io = net_write(put);
    if (io == Io::done) to_net_.erase(0, put);
    else if (io != Io::want_write || !wait_fd(1, POLLOUT, deadline)) return false;
  }
  if (!start_tls()) return false;
  if (!wait_fd(s_.ctl, POLLIN, deadline)) {
    log::line("the program did not answer after the handshake with {}", s_.remote_ip);
    return false;
  }
  char go[16];
  ssize_t n = ::recv(s_.ctl, go, sizeof go, 0);
  return n == 2 && std::string_view(go, 2) == "go";
}

void Relay::on_ctl() {
  char p[64];
  ssize_t n = ::recv(s_.ctl, p, sizeof p, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    ctl_open_ = false;
    return;
  }
  std::string_view packet(p, static_cast<std::size_t>(n));
  if (packet != "starttls") {
    log::line("unexpected packet from the program: {}", log::printable(packet, 64));
    return;
  }
  if (ssl_ || s_.implicit) {
    send_packet(s_.ctl, "fail already");
    return;
  }
  if (!upgrade()) over_ = true;
}

// Plain STARTTLS mode: a TLS record (0x16, a handshake) where a command
// should start means the client got the go-ahead before tlsd read the
// program's "starttls" packet. Those bytes are the handshake's, so they
// stay on the socket until the packet comes (or the handshake timeout passes:
// then the program gets them and refuses them as a command).
bool Relay::client_hello_waiting() {
  if (ssl_ || s_.implicit || !ctl_open_) return false;
  unsigned char c = 0;
  if (::recv(0, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 1 || c != 0x16) {
    holding_ = false;
    return false;
  }
  std::time_t now = std::time(nullptr);
  if (!holding_) holding_ = true, hold_until_ = now + s_.handshake_seconds;
  return now < hold_until_;
}

void Relay::finish() {
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
}

int Relay::run() {
  if (s_.implicit && !start_tls()) return 0;
  char buf[16384];
  while (!over_) {
    bool progress = false;
    short net_in = 0, net_out = 0, data = 0;
    // The program's packets first: a "starttls" must stop the reads from
    // the client before the client's handshake bytes are taken as text.
    if (ctl_open_) on_ctl();
    if (over_) break;
    bool hold = client_hello_waiting();
    // The client to the program.
    if (!net_eof_ && !hold && to_prog_.size() < cap) {
      std::size_t got = 0;
      switch (net_read(buf, std::min(sizeof buf, cap - to_prog_.size()), got)) {
        case Io::done: to_prog_.append(buf, got), progress = true; break;
        case Io::want_read: net_in |= POLLIN; break;
        case Io::want_write: net_out |= POLLOUT; break;
        case Io::eof: net_eof_ = progress = true; break;
        case Io::error: net_eof_ = progress = true; break;
      }
    }
    if (prog_gone_) to_prog_.clear();
    if (!to_prog_.empty()) {
      ssize_t w = ::send(s_.data, to_prog_.data(), to_prog_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) to_prog_.erase(0, static_cast<std::size_t>(w)), progress = true;
      else if (w < 0 && (errno == EAGAIN || errno == EINTR)) data |= POLLOUT;
      else prog_gone_ = true, to_prog_.clear();
    }
    if (net_eof_ && to_prog_.empty() && !prog_shut_) {
      ::shutdown(s_.data, SHUT_WR);
      prog_shut_ = true;
    }
    // The program to the client.
    if (!prog_eof_ && to_net_.size() < cap) {
      ssize_t n = ::recv(s_.data, buf, std::min(sizeof buf, cap - to_net_.size()), MSG_DONTWAIT);
      if (n > 0) to_net_.append(buf, static_cast<std::size_t>(n)), progress = true;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR) && !child_gone_) data |= POLLIN;
      else prog_eof_ = progress = true;
    }
    if (!to_net_.empty()) {
      std::size_t put = 0;
      switch (net_write(put)) {
        case Io::done: to_net_.erase(0, put), progress = true; break;
        case Io::want_read: net_in |= POLLIN; break;
        case Io::want_write: net_out |= POLLOUT; break;
        case Io::eof:
        case Io::error: to_net_.clear(), prog_eof_ = true; break;
      }
    }
    if (prog_eof_ && to_net_.empty()) break;
    // poll() reports a hang-up even without events: unwatched descriptors
    // are left out (-1) so a closed side does not spin the loop.
    std::vector<struct pollfd> fds;
    auto watch = [&](int fd, short ev) {
      fds.push_back({ev ? fd : -1, ev, 0});
      return fds.size() - 1;
    };
    watch(0, net_in);
    watch(1, net_out);
    watch(s_.data, data);
    std::size_t ctl = watch(s_.ctl, ctl_open_ ? POLLIN : 0);
    std::size_t child = watch(s_.pidfd, !child_gone_ && s_.pidfd >= 0 ? POLLIN : 0);
    int r = ::poll(fds.data(), fds.size(), progress ? 0 : hold ? 1000 : s_.idle_seconds * 1000);
    if (r < 0 && errno != EINTR) break;
    if (r == 0 && !progress && !hold) {
      log::line("no traffic from {} for {} seconds: closing", s_.remote_ip, s_.idle_seconds);
      break;
    }
    if (r > 0 && fds[ctl].revents && !over_) on_ctl();
    if (r > 0 && fds[child].revents) {
      int st = 0;
      if (::waitpid(s_.child, &st, WNOHANG) == s_.child) {
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 111;
        child_gone_ = true;
      }
    }
  }
  finish();
  return exit_code_;
}

}  // namespace

int serve(Session& s) {
  for (int fd : {0, 1, s.data}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  // tlsd writes whole TLS records; without this the greeting that follows
  // the session ticket waits for the client's delayed ACK (~40 ms). Not a
  // TCP socket (inetd's pipes, a test's socketpair): nothing to set.
  int one = 1;
  ::setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Relay relay(s);
  return relay.run();
}

}  // namespace postern::tlsd
