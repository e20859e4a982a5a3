// Unit tests for src/lib/envelope and address.
#include <catch2/catch.hpp>

#include "mail/address.hpp"
#include "mail/envelope.hpp"

using namespace postern;
using namespace std::literals;

TEST_CASE("envelope round trip") {
  Envelope e{"a@b.example", {"c@d.example", "e@f.example"}, {}};
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

TEST_CASE("envelope with a hold record") {
  Envelope e{"a@b.example", {"c@d.example"}, "authcheck (dmarc=quarantine)"};
  auto bytes = encode_envelope(e);
  CHECK(bytes == "Fa@b.example\0Hauthcheck (dmarc=quarantine)\0Tc@d.example\0\0"sv);
  auto back = decode_envelope(bytes);
  REQUIRE(back);
  CHECK(back->hold == e.hold);
  CHECK(back->recipients == e.recipients);
  CHECK(encode_envelope(Envelope{"a@b", {"c@d"}, {}}) == "Fa@b\0Tc@d\0\0"sv);  // none: qmail's bytes
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0H\0Tc@d\0\0", 14)));        // empty reason
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0Hx\ty\0Tc@d\0\0", 17)));   // control byte
  CHECK_FALSE(decode_envelope("Fa@b" + std::string(1, '\0') + "H" + std::string(201, 'x') + std::string(1, '\0') +
                              "Tc@d" + std::string(2, '\0')));  // too long
  CHECK_FALSE(decode_envelope(std::string("Fa@b\0Tc@d\0Hx\0\0", 15)));       // only after the sender
}

TEST_CASE("split_address uses the last @") {
  auto a = split_address("\"x@y\"@example.org");
  CHECK(a.local == "\"x@y\"");
  CHECK(a.domain == "example.org");
  CHECK(split_address("root").domain.empty());
}
