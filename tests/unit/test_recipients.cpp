// Unit tests for src/lib/recipients: the keys of recipients.cdb and their
// look-up.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "base/cdb.hpp"
#include "mail/recipients.hpp"

using namespace postern;

namespace {

std::vector<std::string> keys(std::string_view lp, std::string_view ep, std::string_view name) {
  std::vector<std::string> k;
  recipients::keys_for_file(lp, ep, name, k);
  return k;
}

}  // namespace

TEST_CASE("keys of .qmail files") {
  // A user joe: .qmail-list, .qmail-list-default, .qmail-default.
  CHECK(keys("joe-", "", "list") == std::vector<std::string>{"=joe-list"});
  CHECK(keys("joe-", "", "list-default") == std::vector<std::string>{"+joe-list-"});
  CHECK(keys("joe-", "", "default") == std::vector<std::string>{"+joe-"});
  CHECK(keys("joe-", "", "A:B") == std::vector<std::string>{"=joe-a.b"});
  // The alias user: the whole local part is the extension.
  CHECK(keys("", "", "postmaster") == std::vector<std::string>{"=postmaster"});
  CHECK(keys("", "", "default") == std::vector<std::string>{"+"});
  // An assign "+pre" entry whose extension starts with "x-".
  CHECK(keys("virt-", "x-", "x-foo") == std::vector<std::string>{"=virt-foo"});
  CHECK(keys("virt-", "x-", "other").empty());
  CHECK(keys("virt-", "x-", "x-a-default") == std::vector<std::string>{"+virt-a-"});
  CHECK(keys("virt-", "x-a-", "x-default") == std::vector<std::string>{"+virt-"});
}

TEST_CASE("look-up: exact keys and prefixes") {
  char dir[] = "/tmp/postern-unit-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/r.cdb";
  {
    CdbWriter w;
    REQUIRE(w.start(path));
    REQUIRE(w.add("=joe", ""));
    REQUIRE(w.add("+joe-list-", ""));
    REQUIRE(w.finish());
  }
  CdbReader db;
  REQUIRE(db.open(path));
  CHECK(recipients::lookup(db, "joe") == recipients::Known::yes);
  CHECK(recipients::lookup(db, "joe-list-x") == recipients::Known::yes);
  CHECK(recipients::lookup(db, "joe-list") == recipients::Known::no);
  CHECK(recipients::lookup(db, "jo") == recipients::Known::no);
  CHECK(recipients::lookup(db, "") == recipients::Known::no);
  {
    CdbWriter w;
    REQUIRE(w.start(path));
    REQUIRE(w.add("+", ""));
    REQUIRE(w.finish());
  }
  CdbReader all;
  REQUIRE(all.open(path));
  CHECK(recipients::lookup(all, "anyone") == recipients::Known::yes);
  ::unlink(path.c_str());
  ::rmdir(dir);
}
