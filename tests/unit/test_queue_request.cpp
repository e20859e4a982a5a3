// Unit tests for queuectl's requests to send (mail/queue_request) and the
// hold line of send's state record (mail/queue_state): what a request file
// and a trigger line may say, which messages a selector names, and that a
// held record keeps its end line true and a torn one is refused.
#include <catch2/catch.hpp>

#include "mail/queue_request.hpp"
#include "mail/queue_state.hpp"

using namespace postern;
namespace qr = postern::queue_request;

namespace {

MessageState sample() {
  MessageState m;
  m.sender = "Jo@Example.org";
  m.arrived = 1000;
  m.recipients.push_back({"kim@Stuck.Example", 'R', 'P', 2, 1400, "refused"});
  m.recipients.push_back({"lee@example.org", 'L', 'D', 1, 1000, ""});
  return m;
}

}  // namespace

TEST_CASE("a held record round-trips and its E line counts only recipients", "[queue_request]") {
  MessageState m = sample();
  m.held_by = "uid0";
  std::string text = encode_state(m);
  CHECK(text.find("\nH\tuid0\n") != std::string::npos);
  CHECK(text.ends_with("E\t2\n"));
  auto back = decode_state(text);
  REQUIRE(back);
  CHECK(back->held());
  CHECK(back->held_by == "uid0");
  CHECK(back->recipients.size() == 2);
  // Every prefix of it (a record torn by a power cut) is refused.
  for (std::size_t n = 0; n < text.size(); ++n) CHECK_FALSE(decode_state(text.substr(0, n)));
  // A record without a hold is what it always was.
  CHECK(encode_state(sample()).find("\nH\t") == std::string::npos);
  CHECK_FALSE(decode_state(encode_state(sample()) + "H\tuid0\n"));
  std::string two = text;
  two.insert(two.find("\nR\t") + 1, "H\tuid1\n");
  CHECK_FALSE(decode_state(two));
}

TEST_CASE("a delete with deliveries in flight is kept in the record (K line)", "[queue_request]") {
  MessageState m = sample();
  m.deleted_by = "uid0";
  std::string text = encode_state(m);
  CHECK(text.find("\nK\tuid0\n") != std::string::npos);
  auto back = decode_state(text);
  REQUIRE(back);
  CHECK(back->deleted_by == "uid0");
  CHECK_FALSE(back->held());
  CHECK(encode_state(sample()).find("\nK\t") == std::string::npos);
  std::string two = text;
  two.insert(two.find("\nR\t") + 1, "K\tuid1\n");
  CHECK_FALSE(decode_state(two));
}

TEST_CASE("request files decode only whole, valid requests", "[queue_request]") {
  qr::Request r{qr::Action::remove, {{'i', "0VBsXQ0Aw21835027"}, {'d', "stuck.example"}, {'a', ""}}};
  auto back = qr::decode(qr::encode(r));
  REQUIRE(back);
  CHECK(back->action == qr::Action::remove);
  CHECK(back->selectors.size() == 3);
  std::string text = qr::encode(r);
  for (std::size_t n = 0; n < text.size(); ++n) CHECK_FALSE(qr::decode(text.substr(0, n)));
  CHECK_FALSE(qr::decode("postern-request 1\nhold\ti\t../etc\nE\t1\n"));
  CHECK_FALSE(qr::decode("postern-request 1\nhold\tx\tval\nE\t1\n"));
  CHECK_FALSE(qr::decode("postern-request 1\nhold\ta\tsomething\nE\t1\n"));
  CHECK_FALSE(qr::decode("postern-request 1\nhold\ti\tabc\ndelete\ti\tdef\nE\t2\n"));  // one action a request
  CHECK_FALSE(qr::decode("postern-request 1\nexplode\ti\tabc\nE\t1\n"));
  CHECK_FALSE(qr::decode("postern-request 1\nhold\ti\tabc\nE\t2\n"));
  CHECK(qr::decode("postern-request 1\nhold\ts\t<>\nE\t1\n"));
  CHECK_FALSE(qr::valid_selector({'d', "a@b"}));
  CHECK_FALSE(qr::valid_selector({'r', ""}));
}

TEST_CASE("selectors name messages and recipients without regard to case", "[queue_request]") {
  MessageState m = sample();
  CHECK(qr::matches({'i', "abc"}, "abc", m));
  CHECK_FALSE(qr::matches({'i', "abd"}, "abc", m));
  CHECK(qr::matches({'s', "jo@example.ORG"}, "abc", m));
  CHECK_FALSE(qr::matches({'s', "<>"}, "abc", m));
  CHECK(qr::matches({'r', "KIM@stuck.example"}, "abc", m));
  CHECK(qr::matches({'d', "stuck.example"}, "abc", m));
  CHECK_FALSE(qr::matches({'d', "example"}, "abc", m));  // whole domains, not suffixes
  CHECK(qr::matches({'a', ""}, "abc", m));
  CHECK(qr::names_recipient({'d', "stuck.example"}, m.recipients[0]));
  CHECK_FALSE(qr::names_recipient({'d', "stuck.example"}, m.recipients[1]));
  CHECK(qr::names_recipient({'s', "jo@example.org"}, m.recipients[1]));
  m.sender = "";
  CHECK(qr::matches({'s', "<>"}, "abc", m));
}

TEST_CASE("flush lines survive split reads and pokes, and never say R", "[queue_request]") {
  qr::Selector s{'d', "Remote.Example"};
  std::string line = qr::flush_line(s);
  CHECK(line.find('R') == std::string::npos);
  qr::FlushReader reader;
  std::string bytes = "xxR" + line.substr(0, 5);
  reader.feed(bytes.data(), bytes.size());
  CHECK(reader.take().empty());
  std::string rest = line.substr(5) + "x" + qr::flush_line({'i', "abc"});
  reader.feed(rest.data(), rest.size());
  auto got = reader.take();
  REQUIRE(got.size() == 2);
  CHECK(got[0].kind == 'd');
  CHECK(got[0].value == "Remote.Example");
  CHECK(got[1].value == "abc");
  // Bad hex, an odd length, "all" (only queuectl may) and an endless line
  // are dropped; the reader stays bounded and recovers at the next line.
  std::string bad = "qdzz\nqd6\nqa\nq" + std::string(100000, 'd') + "\n" + qr::flush_line({'s', "a@b"});
  reader.feed(bad.data(), bad.size());
  got = reader.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].value == "a@b");
}
