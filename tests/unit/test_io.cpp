// Unit tests for src/lib/io: LineReader's bounds and atomic writes.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "base/io.hpp"

using namespace postern;

namespace {

// A pipe fed from a thread, so reads come in pieces as from a socket.
struct Feed {
  int fds[2];
  std::thread writer;
  explicit Feed(std::string data) {
    REQUIRE(::pipe(fds) == 0);
    writer = std::thread([this, d = std::move(data)] {
      write_all(fds[1], d);
      ::close(fds[1]);
    });
  }
  ~Feed() {
    writer.join();
    ::close(fds[0]);
  }
};

}  // namespace

TEST_CASE("LineReader returns lines, then a last unterminated one, then eof") {
  Feed f("one\ntwo\nthree");
  LineReader r(f.fds[0], 100);
  std::string line;
  REQUIRE(r.next(line) == LineReader::Result::line);
  CHECK(line == "one\n");
  REQUIRE(r.next(line) == LineReader::Result::line);
  CHECK(line == "two\n");
  REQUIRE(r.next(line) == LineReader::Result::line);
  CHECK(line == "three");
  CHECK(r.next(line) == LineReader::Result::eof);
}

TEST_CASE("LineReader reports a line over its bound and goes on after it") {
  std::string big(3 << 20, 'x');
  Feed f("short\n" + big + "\nafter\n");
  LineReader r(f.fds[0], 1000);
  std::string line;
  REQUIRE(r.next(line) == LineReader::Result::line);
  CHECK(line == "short\n");
  CHECK(r.next(line) == LineReader::Result::too_long);
  REQUIRE(r.next(line) == LineReader::Result::line);
  CHECK(line == "after\n");
  CHECK(r.next(line) == LineReader::Result::eof);
}

TEST_CASE("LineReader finds many lines in one buffer") {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += std::to_string(i) + "\n";
  Feed f(data);
  LineReader r(f.fds[0], 100);
  std::string line;
  for (int i = 0; i < 10000; ++i) {
    REQUIRE(r.next(line) == LineReader::Result::line);
    REQUIRE(line == std::to_string(i) + "\n");
  }
  CHECK(r.next(line) == LineReader::Result::eof);
}

TEST_CASE("write_file_atomic replaces a file whole") {
  char dir[] = "/tmp/postern-io-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/f";
  REQUIRE(write_file_atomic(path, "first"));
  REQUIRE(write_file_atomic(path, "second", 0600, false));
  CHECK(read_file(path) == std::optional<std::string>("second"));
  ::unlink(path.c_str());
  ::rmdir(dir);
}
