// Unit tests for the defects the fuzz targets (tests/fuzz) found in the
// parsers of src/lib, one case each; each input is also kept in the
// target's corpus (tests/fuzz/corpus/NAME/found-*).
#include <catch2/catch.hpp>

#include <string>

#include "mail/assign.hpp"
#include "mail/queue_state.hpp"

using namespace postern;

TEST_CASE("an assign uid or gid too big for uid_t is refused, never wrapped") {
  // Found by the assign target: 4294967296 became uid 0, 4294967297 uid 1.
  std::string why;
  CHECK_FALSE(parse_assign_line("=evil:evil:4294967296:100:/home/evil:::", why));
  CHECK_FALSE(parse_assign_line("=evil:evil:4294967297:100:/home/evil:::", why));
  CHECK_FALSE(parse_assign_line("=evil:evil:1000:4294967296:/home/evil:::", why));
  // (uid_t)-1 means "unchanged" to setresuid.
  CHECK_FALSE(parse_assign_line("=evil:evil:4294967295:100:/home/evil:::", why));
  CHECK_FALSE(decode_mail_user(std::string("evil\0" "4294967296\0" "1\0" "/h\0" "\0" "\0", 22)));
  auto ok = parse_assign_line("=joe:joe:4294967294:1000:/home/joe:::", why);
  REQUIRE(ok);
  CHECK(ok->user.uid == 4294967294u);
}

TEST_CASE("a state record with times or counts past their types is refused") {
  // Found by the queue_state target: arrival 2^64-1 read as -1, which
  // encode_state wrote out and decode_state then refused.
  std::string good = "postern-state 2\nF\ta@x\nA\t1700000000\nR\tLP\t1\t1700000001\tb@x\twhy\nE\t1\n";
  auto m = decode_state(good);
  REQUIRE(m);
  CHECK(encode_state(*m) == good);
  CHECK_FALSE(decode_state("postern-state 1\nF\ta@x\nA\t18446744073709551615\nR\tLP\t1\t0\tb@x\t\n"));
  CHECK_FALSE(decode_state("postern-state 1\nF\ta@x\nA\t0\nR\tLP\t1\t9223372036854775808\tb@x\t\n"));
  CHECK_FALSE(decode_state("postern-state 1\nF\ta@x\nA\t0\nR\tLP\t4294967296\t0\tb@x\t\n"));
}
