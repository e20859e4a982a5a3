// Unit tests for src/lib/dot_qmail: the .qmail file names tried for an
// extension, and the parsing of .qmail lines.
#include <catch2/catch.hpp>

#include "mail/dot_qmail.hpp"

using namespace postern;
using namespace postern::dot_qmail;

namespace {

std::vector<std::string> names(std::string_view dash, std::string_view ext) {
  std::vector<std::string> out;
  auto c = candidates(dash, ext);
  REQUIRE(c);
  for (const auto& x : *c) out.push_back(x.name);
  return out;
}

}  // namespace

TEST_CASE("no extension: only .qmail") {
  CHECK(names("", "") == std::vector<std::string>{".qmail"});
}

TEST_CASE("an extension falls back through -default files") {
  CHECK(names("-", "a-b-c") == std::vector<std::string>{".qmail-a-b-c", ".qmail-a-b-default",
                                                        ".qmail-a-default", ".qmail-default"});
  CHECK(names("-", "a") == std::vector<std::string>{".qmail-a", ".qmail-default"});
  CHECK(names("-", "a-") ==
        std::vector<std::string>{".qmail-a-", ".qmail-a-default", ".qmail-default"});
  CHECK(names("-", "") == std::vector<std::string>{".qmail-", ".qmail-default"});
  CHECK(names("-", "default") == std::vector<std::string>{".qmail-default"});
}

TEST_CASE("DEFAULT is the part the default stands for, in its original case") {
  auto c = candidates("-", "List-Foo-Bar");
  REQUIRE(c);
  REQUIRE(c->size() == 4);
  CHECK((*c)[0].name == ".qmail-list-foo-bar");
  CHECK_FALSE((*c)[0].default_part);
  CHECK((*c)[1].default_part == "Bar");
  CHECK((*c)[2].default_part == "Foo-Bar");
  CHECK((*c)[3].default_part == "List-Foo-Bar");
}

TEST_CASE("extensions are lowercased and dots become colons") {
  CHECK(names("-", "Joe.Smith")[0] == ".qmail-joe:smith");
  CHECK(names("-", "..")[0] == ".qmail-::");
}

TEST_CASE("an extension with a slash is refused") {
  CHECK_FALSE(candidates("-", "../x"));
  CHECK_FALSE(candidates("-", "a/b"));
  CHECK_FALSE(candidates("-", std::string("a\0b", 3)));
}

TEST_CASE("without a dash there are no -default fall-backs") {
  CHECK(names("", "x") == std::vector<std::string>{".qmailx"});
}

TEST_CASE("lines of a .qmail file") {
  auto lines = parse(
      "# a comment\n"
      "\n"
      "|preline /usr/bin/procmail  \n"
      "./Maildir/\n"
      "/var/mail/joe\r\n"
      "&fred@example.org\n"
      "  & wilma@example.org \n"
      "barney@example.org\n"
      "   \n"
      "!nonsense\n"
      "./last");
  REQUIRE(lines.size() == 8);
  CHECK(lines[0].kind == Kind::program);
  CHECK(lines[0].value == "preline /usr/bin/procmail");
  CHECK(lines[1].kind == Kind::maildir);
  CHECK(lines[1].value == "./Maildir/");
  CHECK(lines[2].kind == Kind::mbox);
  CHECK(lines[2].value == "/var/mail/joe");
  CHECK(lines[3].kind == Kind::forward);
  CHECK(lines[3].value == "fred@example.org");
  CHECK(lines[4].kind == Kind::forward);
  CHECK(lines[4].value == "wilma@example.org");
  CHECK(lines[5].kind == Kind::forward);
  CHECK(lines[5].value == "barney@example.org");
  CHECK(lines[6].kind == Kind::invalid);
  CHECK(lines[7].kind == Kind::mbox);
  CHECK(lines[7].value == "./last");
}

TEST_CASE("EXTn and HOSTn as qmail-command defines them") {
  CHECK(ext_part("a-b-c-d", 1) == "b-c-d");
  CHECK(ext_part("a-b-c-d", 3) == "d");
  CHECK(ext_part("a", 1) == "");
  CHECK(ext_part("", 2) == "");
  CHECK(host_part("mx.a.example.org", 1) == "mx.a.example");
  CHECK(host_part("mx.a.example.org", 3) == "mx");
  CHECK(host_part("example.org", 3) == "example");
  CHECK(host_part("localhost", 1) == "localhost");
}
