// Unit tests for src/lib/envelope and address.
#include <catch2/catch.hpp>

#include "mail/address.hpp"
#include "mail/envelope.hpp"

using namespace postern;

TEST_CASE("envelope round trip") {
  Envelope e{"a@b.example", {"c@d.example", "e@f.example"}};
  auto bytes = encode_envelope(e);
  auto back = decode_envelope(bytes);
  REQUIRE(back);
  CHECK(back->sender == "a@b.example");
  CHECK(back->recipients == e.recipients);
}

TEST_CASE("envelope with the null sender") {
  std::string bytes("F\0Tx@y\0\0", 8);
  auto e = decode_envelope(bytes);
  REQUIRE(e);
  CHECK(e->sender.empty());
  CHECK(e->recipients.size() == 1);
}

TEST_CASE("malformed envelopes are refused") {
  CHECK_FALSE(decode_envelope(""));
  CHECK_FALSE(decode_envelope(std::string("F\0\0", 3)));            // no recipient
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0Tc@d\0", 10)));    // no final NUL
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0Xc@d\0\0", 11)));  // bad tag
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0Tc\nd\0\0", 11))); // control byte
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0T\0\0", 8)));      // empty recipient
}

TEST_CASE("split_address uses the last @") {
  auto a = split_address("\"x@y\"@example.org");
  CHECK(a.local == "\"x@y\"");
  CHECK(a.domain == "example.org");
  CHECK(split_address("root").domain.empty());
}
