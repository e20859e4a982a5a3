// Unit tests for write_file_atomic and read_regular_file against names
// planted by someone else in a directory they can write: a symlink or a
// stale file under the temporary name, a FIFO or symlink under the name read.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/io.hpp"
#include "scratch.hpp"

using namespace postern;

TEST_CASE("write_file_atomic never follows a symlink planted under its temporary name") {
  std::string dir = test::temp_dir();
  std::string path = dir + "/state", victim = dir + "/victim";
  REQUIRE(write_file_atomic(victim, "precious", 0600));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  REQUIRE(::symlink(victim.c_str(), tmp.c_str()) == 0);
  REQUIRE(write_file_atomic(path, "new state", 0600));
  CHECK(read_file(victim) == std::optional<std::string>("precious"));
  CHECK(read_file(path) == std::optional<std::string>("new state"));
  struct stat st {};
  CHECK(::lstat(tmp.c_str(), &st) != 0);
  test::remove_tree(dir);
}

TEST_CASE("write_file_atomic never reuses a stale temporary file and its mode") {
  std::string dir = test::temp_dir();
  std::string path = dir + "/secret";
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::fchmod(fd, 0666) == 0);
  ::close(fd);
  REQUIRE(write_file_atomic(path, "key", 0600));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_file(path) == std::optional<std::string>("key"));
  test::remove_tree(dir);
}

TEST_CASE("read_regular_file refuses a FIFO and a symlink without blocking") {
  std::string dir = test::temp_dir();
  std::string fifo = dir + "/fifo", link = dir + "/link", plain = dir + "/plain";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  REQUIRE(write_file_atomic(plain, "text", 0600));
  REQUIRE(::symlink(plain.c_str(), link.c_str()) == 0);
  CHECK_FALSE(read_regular_file(fifo).has_value());
  CHECK(errno == EINVAL);
  CHECK_FALSE(read_regular_file(link).has_value());
  CHECK(errno == ELOOP);
  CHECK_FALSE(read_regular_file(dir + "/missing").has_value());
  CHECK(errno == ENOENT);
  CHECK(read_regular_file(plain) == std::optional<std::string>("text"));
  test::remove_tree(dir);
}
