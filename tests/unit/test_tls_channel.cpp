// Unit tests for src/lib/base/tls_channel: the facts packet parser, and
// the program's side of STARTTLS against a scripted tlsd on socketpairs:
// the packets in order, and every plaintext byte waiting before "go"
// thrown away.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/netio.hpp"
#include "base/tls_channel.hpp"

using namespace postern;

TEST_CASE("parse_facts reads tlsd's packet") {
  auto f = tls::parse_facts(
      "ok\nversion=TLSv1.3\ncipher=TLS_AES_256_GCM_SHA384\nbits=256\nsni=mail.example.org\nresumed=yes\n"
      "peer_subject=CN=jo, O=Example\npeer_issuer=CN=Example CA\npeer_fingerprint=sha256:ab12\npeer_verified=yes\n"
      "future_key=whatever\n");
  REQUIRE(f);
  CHECK(f->version == "TLSv1.3");
  CHECK(f->cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(f->bits == 256);
  CHECK(f->sni == "mail.example.org");
  CHECK(f->resumed);
  CHECK(f->peer_cert);
  CHECK(f->peer_verified);
  CHECK(f->peer_subject == "CN=jo, O=Example");
  CHECK(tls::describe(*f) == "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
  auto plain = tls::parse_facts("ok\nversion=TLSv1.2\nsni=\nresumed=no\npeer_verified=yes");
  REQUIRE(plain);
  CHECK(plain->sni.empty());
  CHECK_FALSE(plain->peer_cert);
  CHECK_FALSE(plain->peer_verified);  // no certificate, nothing verified
}

TEST_CASE("parse_facts refuses what tlsd never sends") {
  using namespace std::string_literals;
  for (const std::string& bad : std::vector<std::string>{""s, "fail no certificate"s, "ok2\n", "OK\n", "ok\nversion\n", "ok\n=x\n", "ok\nbits=x\n",
                          "ok\nbits=-1\n", "ok\nresumed=maybe\n", "ok\ncipher=A B\n", "ok\nsni=a\tb\n",
                          "ok\nversion=TLS\x01\n"s, "ok\nsni=a\0b\n"s})
    CHECK_FALSE(tls::parse_facts(bad));
  CHECK_FALSE(tls::parse_facts("ok\n" + std::string(5000, 'x')));
}

namespace {

struct Pairs {
  int data[2], ctl[2];
  Pairs() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, data) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl) == 0);
  }
  ~Pairs() {
    for (int fd : {data[0], data[1], ctl[0], ctl[1]}) ::close(fd);
  }
};

std::string recv_packet(int fd) {
  char buf[5000];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

}  // namespace

TEST_CASE("Channel::start drops the plaintext sent before the handshake") {
  Pairs p;
  REQUIRE(p.ctl[1] >= 4);
  ::setenv("TLSCTLFD", std::to_string(p.ctl[1]).c_str(), 1);
  ::setenv("TLSMODE", "starttls", 1);
  ::setenv("TLSREADY", "1", 1);
  auto ch = tls::Channel::from_environment();
  REQUIRE(ch);
  CHECK_FALSE(ch->implicit());
  CHECK(ch->can_start());
  // The client pipelined a command behind STARTTLS; part of it is already
  // in the program's reader, part still on the socket.
  FdTransport t(p.data[1], p.data[1]);
  NetIO io(t, 10);
  REQUIRE(::write(p.data[0], "STARTTLS\r\nRSET\r\nMAIL FROM:<evil>\r\n", 34) == 34);
  std::string line;
  REQUIRE(io.line(line, 100) == NetIO::Read::line);
  CHECK(line == "STARTTLS\r\n");
  CHECK(io.buffered() > 0);
  std::string asked, went;
  std::thread tlsd([&] {
    asked = recv_packet(p.ctl[0]);
    REQUIRE(::write(p.data[0], "MORE\r\n", 6) == 6);  // arrived during the handshake
    ::send(p.ctl[0], "ok\nversion=TLSv1.3\ncipher=X\nbits=128\n", 37, 0);
    went = recv_packet(p.ctl[0]);
    REQUIRE(::write(p.data[0], "EHLO after\r\n", 12) == 12);
  });
  bool started = ch->start(p.data[1], [&] { io.discard_input(); }, 10);
  tlsd.join();
  REQUIRE(started);
  CHECK(asked == "starttls");
  CHECK(went == "go");
  CHECK(ch->active());
  CHECK_FALSE(ch->can_start());
  CHECK(ch->facts().bits == 128);
  REQUIRE(io.line(line, 100) == NetIO::Read::line);
  CHECK(line == "EHLO after\r\n");
  ::unsetenv("TLSCTLFD");
}

TEST_CASE("Channel: a refused upgrade, implicit mode, and no tlsd") {
  Pairs p;
  ::setenv("TLSCTLFD", std::to_string(p.ctl[1]).c_str(), 1);
  ::setenv("TLSMODE", "starttls", 1);
  ::unsetenv("TLSREADY");
  auto not_ready = tls::Channel::from_environment();
  REQUIRE(not_ready);
  CHECK_FALSE(not_ready->can_start());
  ::setenv("TLSREADY", "1", 1);
  auto ch = tls::Channel::from_environment();
  ::send(p.ctl[0], "fail no certificate", 19, 0);
  CHECK_FALSE(ch->start(p.data[1], nullptr, 10));
  CHECK(ch->error() == "no certificate");
  CHECK(recv_packet(p.ctl[0]) == "starttls");

  ::setenv("TLSMODE", "implicit", 1);
  auto imp = tls::Channel::from_environment();
  REQUIRE(imp);
  CHECK(imp->implicit());
  CHECK_FALSE(imp->can_start());
  ::send(p.ctl[0], "ok\nversion=TLSv1.2\n", 19, 0);
  CHECK(imp->wait_implicit(10));
  CHECK(imp->active());
  CHECK(imp->facts().version == "TLSv1.2");

  // A descriptor that is not tlsd's socket (a file, or nothing) is no tlsd.
  ::setenv("TLSCTLFD", std::to_string(p.data[1]).c_str(), 1);
  CHECK_FALSE(tls::Channel::from_environment());
  ::setenv("TLSCTLFD", "3", 1);
  CHECK_FALSE(tls::Channel::from_environment());
  ::unsetenv("TLSCTLFD");
  CHECK_FALSE(tls::Channel::from_environment());
  ::unsetenv("TLSMODE");
  ::unsetenv("TLSREADY");
}
