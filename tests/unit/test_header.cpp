// Unit tests for src/lib/header: splitting messages, finding fields, and
// reading and rewriting address lists.
#include <catch2/catch.hpp>

#include "mail/header.hpp"

using namespace postern;
using namespace postern::header;

TEST_CASE("field starts, continuations and blank lines") {
  CHECK(is_field_start("Subject: hi\n"));
  CHECK(is_field_start("X-Empty:\n"));
  CHECK(is_field_start("Subject : obsolete space\n"));
  CHECK_FALSE(is_field_start(": no name\n"));
  CHECK_FALSE(is_field_start("From sender Mon Jan 1 12:00:00 2024\n"));
  CHECK_FALSE(is_field_start("no colon here\n"));
  CHECK_FALSE(is_field_start(" Subject: indented\n"));
  CHECK(is_continuation(" more\n"));
  CHECK(is_continuation("\tmore\n"));
  CHECK_FALSE(is_continuation("   \n"));
  CHECK(is_blank("\n"));
  CHECK(is_blank(" \t\n"));
  CHECK(is_blank(""));
}

TEST_CASE("a message splits at the blank line, folding kept") {
  auto m = split_message(
      "Subject: one\n two\n\tthree\nTO: a@b\nX-A:x\n\nbody line\n\nmore\n");
  REQUIRE(m.fields.size() == 3);
  CHECK(m.fields[0].name == "Subject");
  CHECK(m.fields[0].value == " one\n two\n\tthree");
  CHECK(m.fields[0].text() == "Subject: one\n two\n\tthree\n");
  CHECK(unfold(m.fields[0].value) == "one two\tthree");
  CHECK(m.fields[2].value == "x");
  CHECK(m.body == "body line\n\nmore\n");
}

TEST_CASE("a line that is no field starts the body") {
  auto m = split_message("Subject: a\nthis is text\nX: y\n");
  REQUIRE(m.fields.size() == 1);
  CHECK(m.body == "this is text\nX: y\n");

  auto none = split_message("just text\n");
  CHECK(none.fields.empty());
  CHECK(none.body == "just text\n");

  auto indented = split_message(" indented first\n");
  CHECK(indented.fields.empty());
  CHECK(indented.body == " indented first\n");

  auto only = split_message("Subject: x");
  REQUIRE(only.fields.size() == 1);
  CHECK(only.fields[0].value == " x");
  CHECK(only.body.empty());
}

TEST_CASE("fields are found case-insensitively") {
  auto fields = parse("to: a@b\nCc: c@d\nTO: e@f\n");
  REQUIRE(find(fields, "To"));
  CHECK(find(fields, "To")->value == " a@b");
  CHECK(find_all(fields, "tO").size() == 2);
  CHECK(find(fields, "Bcc") == nullptr);
  CHECK(same_name("Message-ID", "message-id"));
  CHECK_FALSE(same_name("Message-ID", "Message-IDs"));
}

static std::vector<std::string> addresses(std::string_view v) {
  std::vector<std::string> out;
  for (auto& m : parse_address_list(v)) out.push_back(m.address);
  return out;
}

TEST_CASE("address lists: bare, named, angle, comments") {
  using V = std::vector<std::string>;
  CHECK(addresses("a@b") == V{"a@b"});
  CHECK(addresses(" a@b, c@d ,e@f") == V{"a@b", "c@d", "e@f"});
  CHECK(addresses("Joe Q. Public <joe@example.com>") == V{"joe@example.com"});
  CHECK(addresses("joe@example.com (Joe Public), x@y") == V{"joe@example.com", "x@y"});
  CHECK(addresses("<a@b>") == V{"a@b"});
  CHECK(addresses("a@b,, ,c@d") == V{"a@b", "c@d"});
  CHECK(addresses("") == V{});
  CHECK(addresses("joe") == V{"joe"});
  CHECK(addresses("a(comment)@b") == V{"a@b"});
  CHECK(addresses("a @ b . c") == V{"a@b.c"});
  CHECK(addresses("<@relay1,@relay2:a@b>") == V{"a@b"});
  CHECK(addresses("x@[192.0.2.1]") == V{"x@[192.0.2.1]"});

  auto named = parse_address_list("Joe Q. Public <joe@example.com>, b@c (Bee Cee)");
  REQUIRE(named.size() == 2);
  CHECK(named[0].name == "Joe Q. Public");
  CHECK(named[1].name == "Bee Cee");
}

TEST_CASE("address lists: quoted strings and commas inside quotes") {
  using V = std::vector<std::string>;
  auto m = parse_address_list("\"Doe, John\" <jd@example.com>, \"a\\\"b\" <q@x>");
  REQUIRE(m.size() == 2);
  CHECK(m[0].name == "Doe, John");
  CHECK(m[0].address == "jd@example.com");
  CHECK(m[1].name == "a\"b");
  CHECK(addresses("\"john doe\"@example.com") == V{"\"john doe\"@example.com"});
  CHECK(addresses("\"a,b\"@x, c@d") == V{"\"a,b\"@x", "c@d"});
  CHECK(addresses("(a, b) c@d") == V{"c@d"});
  CHECK(addresses("Name (x, <y>) <n@m>") == V{"n@m"});
}

TEST_CASE("address lists: groups") {
  using V = std::vector<std::string>;
  auto m = parse_address_list("list: a@b, Cee <c@d>; e@f");
  REQUIRE(m.size() == 3);
  CHECK(m[0].address == "a@b");
  CHECK(m[0].group == "list");
  CHECK(m[1].address == "c@d");
  CHECK(m[1].group == "list");
  CHECK(m[2].address == "e@f");
  CHECK(m[2].group.empty());
  CHECK(addresses("undisclosed-recipients:;") == V{});
  CHECK(addresses("A Group: ;, x@y") == V{"x@y"});
}

TEST_CASE("address lists: the null address and malformed input") {
  auto m = parse_address_list("<>");
  REQUIRE(m.size() == 1);
  CHECK(m[0].address.empty());
  // Nothing unterminated makes the parser fail or loop.
  CHECK(addresses("Joe <joe@x") == std::vector<std::string>{"joe@x"});
  CHECK(addresses("\"unterminated, a@b").size() == 1);
  CHECK(addresses("(unterminated a@b").empty());
  CHECK(addresses("a@b>, c@d") == std::vector<std::string>{"a@b", "c@d"});
  std::string big(1 << 20, 'x');
  CHECK(addresses(big).size() == 1);
  std::string parens(100000, '(');
  CHECK(addresses(parens).empty());
}

TEST_CASE("rewriting touches only the addresses") {
  auto upper = [](const std::string& a) {
    return a.empty() || a.find('@') != std::string::npos ? a : a + "@host.example";
  };
  CHECK(rewrite_addresses(" joe, \"Doe, J\" <jd>,\n\tx@y (X)", upper) ==
        " joe@host.example, \"Doe, J\" <jd@host.example>,\n\tx@y (X)");
  CHECK(rewrite_addresses(" list: a, b@c;", upper) == " list: a@host.example, b@c;");
  CHECK(rewrite_addresses(" Name <a>", upper) == " Name <a@host.example>");
  CHECK(rewrite_addresses(" <>", upper) == " <>");
  CHECK(rewrite_addresses(" plain@text.example", upper) == " plain@text.example");
}
