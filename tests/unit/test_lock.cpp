// Unit tests for src/lib/lock: dot locks and fcntl locks, with a second
// taker in a child process (fcntl locks do not conflict within a process).
#include <catch2/catch.hpp>

#include "scratch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "base/lock.hpp"

using namespace postern;
using namespace postern::test;
using namespace std::chrono_literals;

TEST_CASE("a dot lock excludes a second taker until released") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox.lock";
  lock::DotLock a, b;
  REQUIRE(a.acquire(path, 1s) == lock::Result::locked);
  CHECK(::access(path.c_str(), F_OK) == 0);
  CHECK(b.acquire(path, 1s) == lock::Result::timeout);
  a.release();
  CHECK(::access(path.c_str(), F_OK) != 0);
  CHECK(b.acquire(path, 1s) == lock::Result::locked);
  b.release();
  ::rmdir(dir.c_str());
}

TEST_CASE("a stale dot lock is removed") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox.lock";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  ::close(fd);
  struct timespec old[2] = {{std::time(nullptr) - 600, 0}, {std::time(nullptr) - 600, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), old, 0) == 0);
  lock::DotLock l;
  CHECK(l.acquire(path, 1s, 300s) == lock::Result::locked);
  l.release();
  ::rmdir(dir.c_str());
}

TEST_CASE("a fresh dot lock is not stale") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox.lock";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  ::close(fd);
  lock::DotLock l;
  CHECK(l.acquire(path, 1s, 300s) == lock::Result::timeout);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("a dot lock in a missing directory is an error") {
  lock::DotLock l;
  CHECK(l.acquire("/nonexistent-postern-dir/x.lock", 1s) == lock::Result::error);
}

TEST_CASE("an fcntl lock held by another process times out, then is granted") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  REQUIRE(fd >= 0);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int cfd = ::open(path.c_str(), O_RDWR);
    if (lock::fcntl_lock(cfd, 1s) != lock::Result::locked) ::_exit(1);
    char c = 'x';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::sleep(3);
    ::_exit(0);  // exiting releases the lock
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  CHECK(lock::fcntl_lock(fd, 1s) == lock::Result::timeout);
  CHECK(lock::fcntl_lock(fd, 10s) == lock::Result::locked);
  lock::fcntl_unlock(fd);
  int st;
  ::waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  ::close(fd);
  ::close(ready[0]);
  ::close(ready[1]);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}
