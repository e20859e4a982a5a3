// Unit tests for src/lib/maildir: a delivery lands in new/ with the right
// bytes and ,S=size, leaves tmp/ empty, and a missing Maildir fails.
#include <catch2/catch.hpp>

#include "scratch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/io.hpp"
#include "mail/maildir.hpp"

using namespace postern;
using namespace postern::test;

namespace {

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

std::string make_maildir() {
  std::string dir = temp_dir() + "/Maildir";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  for (auto sub : {"/tmp", "/new", "/cur"}) REQUIRE(::mkdir((dir + sub).c_str(), 0700) == 0);
  return dir;
}

}  // namespace

TEST_CASE("unique names have the documented shape") {
  std::string a = maildir::unique_name(), b = maildir::unique_name();
  CHECK(a != b);
  CHECK(a.find(".M") != std::string::npos);
  CHECK(a.find('P') != std::string::npos);
  CHECK(a.find('R') != std::string::npos);
  CHECK(a.find('/') == std::string::npos);
  CHECK(a.find(':') == std::string::npos);
}

TEST_CASE("a delivery lands in new/ with its size in the name") {
  std::string dir = make_maildir();
  std::string message("Received: x\n\nbody with a \0 NUL\nno final newline", 45);
  Fd fd(message_fd(dir_of(dir), message));
  std::string prefix = "Return-Path: <a@b>\nDelivered-To: joe@example.org\n";
  auto r = maildir::deliver(dir + "/", prefix, fd.get());
  REQUIRE(r.ok);
  auto files = list(dir + "/new");
  REQUIRE(files.size() == 1);
  std::string expect = prefix + message;
  CHECK(files[0].size() > 4);
  CHECK(files[0].substr(files[0].rfind(",S=")) == ",S=" + std::to_string(expect.size()));
  CHECK(r.text == dir + "/new/" + files[0]);
  auto content = read_file(dir + "/new/" + files[0]);
  REQUIRE(content);
  CHECK(*content == expect);
  CHECK(list(dir + "/tmp").empty());
  remove_tree(dir_of(dir));
}

TEST_CASE("the Writer can put a message into cur/ with flags") {
  std::string dir = make_maildir();
  maildir::Writer w(dir);
  REQUIRE(w.open());
  REQUIRE(w.write("Subject: x\n\nhi\n"));
  REQUIRE(w.commit("2,S"));
  auto files = list(dir + "/cur");
  REQUIRE(files.size() == 1);
  CHECK(files[0].size() > 10);
  CHECK(files[0].substr(files[0].size() - 9) == ",S=15:2,S");
  CHECK(list(dir + "/new").empty());
  remove_tree(dir_of(dir));
}

TEST_CASE("an abandoned Writer leaves nothing behind") {
  std::string dir = make_maildir();
  {
    maildir::Writer w(dir);
    REQUIRE(w.open());
    REQUIRE(w.write("half a message"));
  }
  CHECK(list(dir + "/tmp").empty());
  CHECK(list(dir + "/new").empty());
  remove_tree(dir_of(dir));
}

TEST_CASE("a missing Maildir is a failure naming it") {
  std::string top = temp_dir();
  Fd fd(message_fd(top, "Subject: x\n\n"));
  auto r = maildir::deliver(top + "/Nowhere/", "", fd.get());
  CHECK_FALSE(r.ok);
  CHECK(r.error_number == ENOENT);
  CHECK(r.text.find("Nowhere") != std::string::npos);

  REQUIRE(::mkdir((top + "/Half").c_str(), 0700) == 0);
  REQUIRE(::mkdir((top + "/Half/tmp").c_str(), 0700) == 0);
  auto h = maildir::deliver(top + "/Half", "", fd.get());
  CHECK_FALSE(h.ok);
  CHECK(h.text.find("new") != std::string::npos);
  CHECK(list(top + "/Half/tmp").empty());
  remove_tree(top);
}

TEST_CASE("a read error removes the tmp file") {
  std::string dir = make_maildir();
  Fd bad(::open(dir.c_str(), O_RDONLY | O_DIRECTORY));  // read() gives EISDIR
  auto r = maildir::deliver(dir, "x\n", bad.get());
  CHECK_FALSE(r.ok);
  CHECK(r.error_number == EISDIR);
  CHECK(list(dir + "/tmp").empty());
  CHECK(list(dir + "/new").empty());
  remove_tree(dir_of(dir));
}
