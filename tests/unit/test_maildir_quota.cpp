// Unit tests for src/lib/mail/maildir_quota and quota_limits: the
// maildirsize format Courier and Dovecot share, its recalculation rules,
// control/quotas lines and the quotawarn crossing.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <string>

#include "mail/maildir.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/quota_limits.hpp"
#include "scratch.hpp"

using namespace postern;
namespace mq = postern::maildir_quota;

namespace {

std::string make_maildir() {
  std::string d = test::temp_dir() + "/Maildir";
  REQUIRE(maildir::create(d));
  return d;
}

void put(const std::string& dir, const std::string& name, std::size_t size) {
  REQUIRE(write_file_atomic(dir + "/" + name, std::string(size, 'x'), 0600));
}

std::string file(const std::string& path) { return read_file(path).value_or("<none>"); }

}  // namespace

TEST_CASE("maildir_quota: definitions as Courier writes them") {
  CHECK(mq::definition({10000000, 1000}) == "10000000S,1000C");
  CHECK(mq::definition({0, 50}) == "50C");
  CHECK(mq::definition({}) == "");
  CHECK(mq::parse_definition("10000000S,1000C") == mq::Limits{10000000, 1000});
  CHECK(mq::parse_definition("1000C,5S") == mq::Limits{5, 1000});
  CHECK(mq::parse_definition("") == mq::Limits{});
  CHECK_FALSE(mq::parse_definition("10X"));
  CHECK_FALSE(mq::parse_definition("S"));
  CHECK_FALSE(mq::parse_definition("-5S"));
}

TEST_CASE("maildir_quota: a file's lines add up; a damaged one is not sound") {
  auto f = mq::parse_file("100S,10C\n   40     2\n 5 1\n-20 -1\n");
  CHECK(f.sound);
  CHECK(f.limits == mq::Limits{100, 10});
  CHECK(f.usage.bytes == 25);
  CHECK(f.usage.messages == 2);
  CHECK_FALSE(mq::parse_file("100S\n40 2\n12").sound);    // half a line
  CHECK_FALSE(mq::parse_file("100S\n40 two\n").sound);
  CHECK_FALSE(mq::parse_file("100S\n-40 -2\n").sound);   // below zero
  CHECK_FALSE(mq::parse_file("junk\n1 1\n").sound);
  CHECK_FALSE(mq::parse_file("").sound);
  CHECK_FALSE(mq::parse_file("1S\n999999999999999999999 1\n").sound);
}

TEST_CASE("maildir_quota: counts every folder, from S= or the file size") {
  std::string d = make_maildir();
  put(d + "/cur", "1.a.host,S=1000:2,S", 3);
  put(d + "/new", "2.b.host", 70);
  REQUIRE(maildir::create(d + "/.Sent"));
  put(d + "/.Sent/cur", "3.c.host,S=500:2,", 1);
  put(d + "/.Sent/cur", ".hidden", 1);
  auto u = mq::count(d);
  REQUIRE(u);
  CHECK(u->bytes == 1570);
  CHECK(u->messages == 3);
  CHECK(mq::root_of(d + "/.Sent") == d + "/.Sent");  // no maildirfolder file
  REQUIRE(write_file_atomic(d + "/.Sent/maildirfolder", "", 0600));
  CHECK(mq::root_of(d + "/.Sent/") == d);
}

TEST_CASE("maildir_quota: load recalculates by Maildir++'s rules") {
  std::string d = make_maildir();
  put(d + "/cur", "1.a.host,S=1000:2,", 1);
  std::string why;
  // no file: made, with the limits as its first line
  auto u = mq::load(d, {5000, 0}, why);
  REQUIRE(u);
  CHECK(u->bytes == 1000);
  CHECK(file(d + "/maildirsize") == "5000S\n1000 1\n");
  // lines are believed while sound
  mq::record(d, 300, 1);
  CHECK(mq::load(d, {5000, 0}, why)->bytes == 1300);
  // other limits: recalculated from the files, with the new limits
  u = mq::load(d, {0, 7}, why);
  CHECK(u->bytes == 1000);
  CHECK(file(d + "/maildirsize") == "7C\n1000 1\n");
  // a damaged file is recalculated, never believed
  REQUIRE(write_file_atomic(d + "/maildirsize", "7C\n999999 9\nbad line\n", 0600));
  CHECK(mq::load(d, {0, 7}, why)->messages == 1);
  // over quota and older than 15 minutes: recalculated
  REQUIRE(write_file_atomic(d + "/maildirsize", "7C\n0 50\n", 0600));
  CHECK(mq::load(d, {0, 7}, why)->messages == 50);
  struct utimbuf old {1000, 1000};
  REQUIRE(::utime((d + "/maildirsize").c_str(), &old) == 0);
  CHECK(mq::load(d, {0, 7}, why)->messages == 1);
  // longer than 5120 bytes: recalculated
  std::string big = "7C\n";
  while (big.size() <= 5120) big += "0 0\n";
  REQUIRE(write_file_atomic(d + "/maildirsize", big, 0600));
  CHECK(mq::load(d, {0, 7}, why)->messages == 1);
  CHECK(file(d + "/maildirsize").size() < 100);
}

TEST_CASE("maildir_quota: add returns the usage before its line") {
  std::string d = make_maildir();
  std::string why;
  CHECK_FALSE(mq::add(d, 10, 1));  // no file, no quota
  REQUIRE(mq::load(d, {100, 0}, why));
  auto before = mq::add(d, 10, 1);
  REQUIRE(before);
  CHECK(before->bytes == 0);
  CHECK(mq::add(d, 5, 1)->bytes == 10);
  CHECK(mq::fits({100, 0}, {90, 2}, 10, 1));
  CHECK_FALSE(mq::fits({100, 0}, {90, 2}, 11, 1));
  CHECK_FALSE(mq::fits({0, 2}, {0, 2}, 0, 1));
  CHECK(mq::fits({}, {1 << 30, 1 << 30}, 1 << 30, 1));
}

TEST_CASE("quota_limits: control/quotas lines") {
  auto e = quota_limits::parse_line("joe 100M 5000");
  REQUIRE(e);
  CHECK(e->name == "joe");
  CHECK(e->limits == mq::Limits{100ull << 20, 5000});
  CHECK(quota_limits::parse_line("*\t2G\t-")->limits == mq::Limits{2ull << 30, 0});
  CHECK(quota_limits::parse_line("joe 512000 0")->limits.bytes == 512000);
  CHECK_FALSE(quota_limits::parse_line("joe 100Q 1"));
  CHECK_FALSE(quota_limits::parse_line("joe 100M"));
  CHECK_FALSE(quota_limits::parse_line("../x 1 1"));
  CHECK_FALSE(quota_limits::parse_line("joe 99999999999T 1"));
  CHECK(quota_limits::format_line({"joe", {1024, 3}}) == "joe 1024 3");
  CHECK(quota_limits::parse_line(quota_limits::format_line({"joe", {1024, 3}}))->limits == mq::Limits{1024, 3});
}

TEST_CASE("quota_limits: a threshold is crossed once") {
  mq::Limits l{1000, 10};
  CHECK(quota_limits::crossed(l, {800, 1}, {950, 2}, 90));
  CHECK_FALSE(quota_limits::crossed(l, {950, 2}, {990, 3}, 90));  // already past it
  CHECK(quota_limits::crossed(l, {0, 8}, {10, 9}, 90));            // by count
  CHECK_FALSE(quota_limits::crossed(l, {800, 1}, {950, 2}, 0));    // warnings off
  CHECK_FALSE(quota_limits::crossed({}, {0, 0}, {1 << 20, 1000}, 90));
}
