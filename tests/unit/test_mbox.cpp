// Unit tests for src/lib/mbox: the From_ line, >From quoting (also across
// chunk boundaries), the final newline and blank line, truncation back to
// the old length on failure, and waiting for the locks.
#include <catch2/catch.hpp>

#include "scratch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "base/io.hpp"
#include "base/lock.hpp"
#include "mail/mbox.hpp"

using namespace postern;
using namespace postern::test;
using namespace std::chrono_literals;

namespace {

}  // namespace

TEST_CASE("From_ lines") {
  std::time_t t = 0;
  CHECK(mbox::from_line("a@b", t) == "From a@b Thu Jan  1 00:00:00 1970\n");
  CHECK(mbox::from_line("", t) == "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
  CHECK(mbox::from_line("a b\tc@d", t) == "From a-b-c@d Thu Jan  1 00:00:00 1970\n");
}

TEST_CASE(">From quoting") {
  CHECK(mbox::quote("From me\n") == ">From me\n");
  CHECK(mbox::quote("x\nFrom me\n>From you\n>>From them\n") ==
        "x\n>From me\n>>From you\n>>>From them\n");
  CHECK(mbox::quote("From\nFrom:\nfrom x\n From x\nFromage\n") ==
        "From\nFrom:\nfrom x\n From x\nFromage\n");
  CHECK(mbox::quote("a From b\n") == "a From b\n");
  CHECK(mbox::quote("Fro") == "Fro");
  CHECK(mbox::quote(">>") == ">>");
  CHECK(mbox::quote("F>From x\n") == "F>From x\n");
  CHECK(mbox::quote(std::string("\0From \n", 7)) == std::string("\0From \n", 7));
}

TEST_CASE(">From quoting is the same however the input is cut") {
  std::string in = "From a\n>From b\nxFrom c\n>>>From d\nFrom";
  std::string whole = mbox::quote(in);
  for (std::size_t size = 1; size <= 5; ++size) {
    mbox::FromQuoter q;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += size) q.feed(std::string_view(in).substr(i, size), out);
    q.finish(out);
    CHECK(out == whole);
  }
}

TEST_CASE("a delivery appends From_, prefix, quoted message, newline, blank line") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox";
  REQUIRE(write_file_atomic(path, "old\n\n", 0600));
  Fd fd(message_fd(dir, std::string("Subject: x\n\nFrom here\nNUL\0byte\nlast", 35)));
  auto r = mbox::deliver(path, "From a@b now\n", "Return-Path: <a@b>\n", fd.get());
  REQUIRE(r.ok);
  auto content = read_file(path);
  REQUIRE(content);
  CHECK(*content == "old\n\nFrom a@b now\nReturn-Path: <a@b>\nSubject: x\n\n>From here\nNUL" +
                        std::string("\0", 1) + "byte\nlast\n\n");
  CHECK(::access((path + ".lock").c_str(), F_OK) != 0);  // dot lock released
  remove_tree(dir);
}

TEST_CASE("a new mbox is created with mode 0600") {
  std::string dir = temp_dir();
  std::string path = dir + "/new-mbox";
  Fd fd(message_fd(dir, "Subject: x\n\nbody\n"));
  auto r = mbox::deliver(path, "From a@b now\n", "", fd.get());
  REQUIRE(r.ok);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(*read_file(path) == "From a@b now\nSubject: x\n\nbody\n\n");
  remove_tree(dir);
}

TEST_CASE("a failed write is cut back to the old length") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox";
  std::string old(100, 'o');
  REQUIRE(write_file_atomic(path, old, 0600));
  std::string big = "Subject: x\n\n" + std::string(200000, 'b') + "\n";
  int in = message_fd(dir, big);
  // In a child, so the file size limit does not touch the test runner.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl {100000, 100000};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    auto r = mbox::deliver(path, "From a@b now\n", "", in);
    ::_exit(r.ok ? 1 : r.error_number == EFBIG ? 0 : 2);
  }
  int st;
  ::waitpid(pid, &st, 0);
  ::close(in);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(*read_file(path) == old);
  remove_tree(dir);
}

TEST_CASE("a mailbox locked by someone else for too long is a failure") {
  std::string dir = temp_dir();
  std::string path = dir + "/mbox";
  REQUIRE(write_file_atomic(path, "", 0600));
  Fd in(message_fd(dir, "Subject: x\n\n"));
  mbox::Options quick;
  quick.lock_timeout = 1s;

  lock::DotLock dot;
  REQUIRE(dot.acquire(path + ".lock", 1s) == lock::Result::locked);
  auto r = mbox::deliver(path, "From a@b now\n", "", in.get(), quick);
  CHECK_FALSE(r.ok);
  CHECK(r.error_number == ETIMEDOUT);
  dot.release();

  // The fcntl lock, held by another process.
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (lock::fcntl_lock(fd, 1s) != lock::Result::locked) ::_exit(1);
    char c = 'x';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::sleep(3);
    ::_exit(0);
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto f = mbox::deliver(path, "From a@b now\n", "", in.get(), quick);
  CHECK_FALSE(f.ok);
  CHECK(f.error_number == ETIMEDOUT);
  CHECK(::access((path + ".lock").c_str(), F_OK) != 0);
  int st;
  ::waitpid(pid, &st, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  CHECK(*read_file(path) == "");
  remove_tree(dir);
}

TEST_CASE("a symbolic link owned by someone else is not followed") {
  if (::geteuid() != 0) return;  // needs another owner for the link
  std::string dir = temp_dir();
  std::string target = dir + "/target";
  REQUIRE(write_file_atomic(target, "", 0600));
  std::string link = dir + "/mbox";
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  REQUIRE(::lchown(link.c_str(), 65534, 65534) == 0);
  Fd in(message_fd(dir, "Subject: x\n\n"));
  auto r = mbox::deliver(link, "From a@b now\n", "", in.get());
  CHECK_FALSE(r.ok);
  CHECK(*read_file(target) == "");
  remove_tree(dir);
}
