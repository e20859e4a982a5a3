// Unit tests for src/lib/netio: bounded lines, pieces, timeouts, and
// replies flushed before waiting for input.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "base/netio.hpp"

using namespace postern;

namespace {

// A transport that hands out scripted reads and records writes.
class Script : public Transport {
 public:
  std::vector<std::string> reads;
  std::string written;
  std::vector<std::size_t> written_before_read;  // bytes written when each read happened
  ssize_t read(char* buf, std::size_t n, int) override {
    written_before_read.push_back(written.size());
    if (reads.empty()) return 0;
    std::string s = reads.front();
    reads.erase(reads.begin());
    if (s == "TIMEOUT") {
      errno = ETIMEDOUT;
      return -1;
    }
    std::size_t k = std::min(n, s.size());
    std::copy(s.data(), s.data() + k, buf);
    if (k < s.size()) reads.insert(reads.begin(), s.substr(k));
    return static_cast<ssize_t>(k);
  }
  bool write(std::string_view d, int) override {
    written += d;
    return true;
  }
};

}  // namespace

TEST_CASE("lines, split across reads") {
  Script s;
  s.reads = {"HELO a\r\nMA", "IL FROM:<>\r\n", "tail"};
  NetIO io(s, 5);
  std::string l;
  CHECK(io.line(l, 100) == NetIO::Read::line);
  CHECK(l == "HELO a\r\n");
  CHECK(io.buffered() == 2);
  CHECK(io.line(l, 100) == NetIO::Read::line);
  CHECK(l == "MAIL FROM:<>\r\n");
  CHECK(io.line(l, 100) == NetIO::Read::partial);
  CHECK(l == "tail");
  CHECK(io.line(l, 100) == NetIO::Read::eof);
}

TEST_CASE("a line longer than max comes in pieces, memory stays bounded") {
  Script s;
  s.reads = {std::string(25, 'x') + "\r\n"};
  NetIO io(s, 5);
  std::string l;
  CHECK(io.line(l, 10) == NetIO::Read::partial);
  CHECK(l.size() == 10);
  CHECK(io.line(l, 10) == NetIO::Read::partial);
  CHECK(io.line(l, 10) == NetIO::Read::line);
  CHECK(l == "xxxxx\r\n");
}

TEST_CASE("timeout is reported") {
  Script s;
  s.reads = {"TIMEOUT"};
  NetIO io(s, 1);
  std::string l;
  CHECK(io.line(l, 10) == NetIO::Read::timeout);
}

TEST_CASE("replies are flushed before waiting, not before") {
  Script s;
  s.reads = {"A\r\nB\r\n", "C\r\n"};
  NetIO io(s, 5);
  std::string l;
  io.put("220 hi\r\n");
  CHECK(io.line(l, 10) == NetIO::Read::line);  // reads: flushes the greeting first
  io.put("250 a\r\n");
  CHECK(io.line(l, 10) == NetIO::Read::line);  // B was buffered: no flush, no read
  CHECK(s.written == "220 hi\r\n");
  io.put("250 b\r\n");
  CHECK(io.line(l, 10) == NetIO::Read::line);  // now it must wait: both replies go out
  CHECK(s.written == "220 hi\r\n250 a\r\n250 b\r\n");
  CHECK(s.written_before_read == std::vector<std::size_t>{8, 22});
}

TEST_CASE("some() reads exactly what BDAT asks for") {
  Script s;
  s.reads = {"abcdefgh", "ij"};
  NetIO io(s, 5);
  std::string out;
  CHECK(io.some(out, 3) == NetIO::Read::line);
  CHECK(out == "abc");
  CHECK(io.some(out, 100) == NetIO::Read::line);
  CHECK(out == "defgh");
  CHECK(io.some(out, 100) == NetIO::Read::line);
  CHECK(out == "ij");
  CHECK(io.some(out, 100) == NetIO::Read::eof);
}

TEST_CASE("FdTransport times out on a silent pipe") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  FdTransport t(p[0], p[1]);
  char buf[4];
  errno = 0;
  CHECK(t.read(buf, 4, 1) == -1);
  CHECK(errno == ETIMEDOUT);
  CHECK(t.write("ab", 1));
  CHECK(t.read(buf, 4, 1) == 2);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("LineTransport leaves what follows a line in the socket") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  std::string sent = "a LOGIN u p\r\nb SELECT INBOX\r\nc NOOP\r\n";
  REQUIRE(::write(sv[1], sent.data(), sent.size()) == static_cast<ssize_t>(sent.size()));
  LineTransport t(sv[0], sv[0]);
  NetIO io(t, 5);
  std::string line;
  CHECK(io.line(line, 100) == NetIO::Read::line);
  CHECK(line == "a LOGIN u p\r\n");
  CHECK(io.buffered() == 0);
  char buf[100];
  ssize_t n = ::read(sv[0], buf, sizeof buf);  // the next stage's read
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "b SELECT INBOX\r\nc NOOP\r\n");
  ::close(sv[0]);
  ::close(sv[1]);

  int p[2];  // not a socket: one byte at a time, same result
  REQUIRE(::pipe(p) == 0);
  REQUIRE(::write(p[1], sent.data(), sent.size()) == static_cast<ssize_t>(sent.size()));
  LineTransport tp(p[0], p[1]);
  NetIO iop(tp, 5);
  CHECK(iop.line(line, 100) == NetIO::Read::line);
  CHECK(line == "a LOGIN u p\r\n");
  n = ::read(p[0], buf, sizeof buf);
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "b SELECT INBOX\r\nc NOOP\r\n");
  ::close(p[0]);
  ::close(p[1]);
}
