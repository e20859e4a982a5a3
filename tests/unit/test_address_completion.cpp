// Unit tests for src/lib/address_completion: qmail-inject's rules.
#include <catch2/catch.hpp>

#include "inject/address_completion.hpp"

using namespace postern;

TEST_CASE("address completion") {
  CompletionRules r{"mail.example.com", "example.com", "plus.example.org", {}};
  CHECK(complete_address("joe", r) == "joe@mail.example.com");
  CHECK(complete_address("joe@", r) == "joe@mail.example.com");
  CHECK(complete_address("joe@box", r) == "joe@box.example.com");
  CHECK(complete_address("joe@box.other.net", r) == "joe@box.other.net");
  CHECK(complete_address("joe@box+", r) == "joe@box.plus.example.org");
  CHECK(complete_address("joe@+", r) == "joe@plus.example.org");
  CHECK(complete_address("joe@[192.0.2.1]", r) == "joe@[192.0.2.1]");
  CHECK(complete_address("", r) == "");
  CHECK(complete_address("#@[]", r) == "#@[]");
  CHECK(complete_address("\"a@b\"", r) == "\"a@b\"@mail.example.com");
  CHECK(complete_address("\"a@b\"@c", r) == "\"a@b\"@c.example.com");
}

TEST_CASE("defaulthost is completed too") {
  CHECK(complete_address("joe", {"mail", "example.com", "p.example", {}}) == "joe@mail.example.com");
  CHECK(complete_address("joe", {"mail+", "example.com", "p.example", {}}) == "joe@mail.p.example");
  CHECK(complete_address("joe@x", {"mail", "", "p.example", {}}) == "joe@x");
}

TEST_CASE("a dotless local name is not extended with defaultdomain") {
  CompletionRules rules{"vm", "vm", "vm", {"vm", "localhost"}};
  CHECK(complete_address("jo", rules) == "jo@vm");
  CHECK(complete_address("jo@localhost", rules) == "jo@localhost");
  CHECK(complete_address("jo@VM", rules) == "jo@VM");
  CHECK(complete_address("jo@other", rules) == "jo@other.vm");
}
