// Unit tests for queue ids (mail/queue_dirs) and for the end line of send's
// record (mail/queue_state), which keeps a torn record from passing.
#include <catch2/catch.hpp>

#include <string>

#include "mail/queue_dirs.hpp"
#include "mail/queue_state.hpp"

using namespace postern;

TEST_CASE("queue ids hold the time and the inode, and sort by arrival") {
  auto a = queue_dirs::make_id(1700000000, 999999, 11873954);
  auto b = queue_dirs::make_id(1700000001, 0, 11873954);
  auto c = queue_dirs::make_id(1700000001, 1, 2);
  // The same inode, reused a second later: another id.
  CHECK(a != b);
  CHECK(a < b);
  CHECK(b < c);
  CHECK(a.size() >= 11);
  CHECK(queue_dirs::valid_id(a));
  CHECK(queue_dirs::make_id(0, 0, 0) == "00000000000");
  // The inode that fills 64 bits still gives a valid id.
  CHECK(queue_dirs::valid_id(queue_dirs::make_id(1700000000, 5, ~0ull)));
}

TEST_CASE("valid queue ids: new ones, and the digits of a queue from before") {
  CHECK(queue_dirs::valid_id("11873954"));
  CHECK(queue_dirs::valid_id("1AbCdE0xyz7Q"));
  CHECK_FALSE(queue_dirs::valid_id(""));
  CHECK_FALSE(queue_dirs::valid_id("../mess"));
  CHECK_FALSE(queue_dirs::valid_id("12.tmp"));
  CHECK_FALSE(queue_dirs::valid_id("a b"));
  CHECK_FALSE(queue_dirs::valid_id(std::string(41, 'a')));
}

TEST_CASE("a record cut short is refused, not read with fewer recipients") {
  MessageState m;
  m.sender = "a@x";
  m.arrived = 1700000000;
  for (auto* who : {"b@x", "c@x", "d@x"}) m.recipients.push_back(RecipientState{who, 'L', 'P', 0, 0, ""});
  auto text = encode_state(m);
  auto back = decode_state(text);
  REQUIRE(back);
  CHECK(back->recipients.size() == 3);
  // Every shorter prefix that ends a line, as a power cut may leave it.
  for (std::size_t n = 0; n + 1 < text.size(); ++n)
    if (text[n] == '\n') CHECK_FALSE(decode_state(text.substr(0, n + 1)));
  // A record of version 1 (no end line) is still read.
  auto v1 = decode_state("postern-state 1\nF\ta@x\nA\t1700000000\nR\tLP\t1\t1700000001\tb@x\twhy\n");
  REQUIRE(v1);
  CHECK(v1->recipients.size() == 1);
  CHECK_FALSE(decode_state("postern-state 2\nF\ta@x\nA\t1\nR\tLP\t1\t1\tb@x\t\nE\t2\n"));
}
