// Unit tests for src/lib/base/deadline: a session over a real socketpair
// meets its deadline however busy the peer keeps it; the goodbye goes out
// once, then reads end and writes fail; a cancelled deadline is gone.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "base/deadline.hpp"
#include "base/netio.hpp"

using namespace postern;

namespace {

struct Pair {
  int fd[2];
  Pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0); }
  ~Pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  std::string drain() {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::recv(fd[1], buf, sizeof buf, MSG_DONTWAIT)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

}  // namespace

TEST_CASE("a deadline ends a session whose reads each come in time", "[deadline]") {
  Pair p;
  FdTransport fd(p.fd[0], p.fd[0]);
  DeadlineTransport t(fd);
  t.add(1, "421 bye\r\n", "deadline passed");
  NetIO io(t, 60);
  auto start = std::chrono::steady_clock::now();
  std::string line;
  // The peer sends a line now; the next read waits for more and meets the
  // deadline long before the 60 second timeout.
  REQUIRE(::write(p.fd[1], "NOOP\r\n", 6) == 6);
  REQUIRE(io.line(line, 100) == NetIO::Read::line);
  io.put("250 ok\r\n");
  REQUIRE(io.line(line, 100) == NetIO::Read::eof);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::seconds(10));
  CHECK(t.expired());
  CHECK(p.drain() == "250 ok\r\n421 bye\r\n");
  // Nothing more reaches the client.
  io.put("250 late\r\n");
  CHECK_FALSE(io.flush());
  CHECK(p.drain().empty());
}

TEST_CASE("a cancelled deadline is gone", "[deadline]") {
  Pair p;
  FdTransport fd(p.fd[0], p.fd[0]);
  DeadlineTransport t(fd);
  int id = t.add(1, "421 early\r\n", "should not pass");
  t.add(3600, "421 late\r\n", "not yet");
  NetIO io(t, 2);
  io.put("250 2.1.0 ok\r\n");
  REQUIRE(io.flush());
  t.cancel(id);
  std::string line;
  // The per-read timeout (2 s) passes, the cancelled 1 s deadline does not end it.
  CHECK(io.line(line, 100) == NetIO::Read::timeout);
  CHECK_FALSE(t.expired());
  CHECK(p.drain() == "250 2.1.0 ok\r\n");
}

TEST_CASE("no deadline: the transport passes through", "[deadline]") {
  Pair p;
  FdTransport fd(p.fd[0], p.fd[0]);
  DeadlineTransport t(fd);
  CHECK(t.add(0, "x", "y") == 0);
  NetIO io(t, 1);
  std::string line;
  REQUIRE(::write(p.fd[1], "a\n", 2) == 2);
  CHECK(io.line(line, 10) == NetIO::Read::line);
  CHECK(line == "a\n");
  CHECK(io.line(line, 10) == NetIO::Read::timeout);
}
