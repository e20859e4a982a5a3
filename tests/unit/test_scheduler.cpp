// Unit tests for send's decisions (src/send/plan and controls): local or
// remote, the retry schedule, the lifetime, and how free slots are shared
// between messages and domains, without a queue, pipes or spawns.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "send/controls.hpp"
#include "send/plan.hpp"

using namespace postern;
using namespace postern::send;

namespace {

Controls sample_controls() {
  Controls c;
  c.domains.me = "mx.example";
  c.domains.locals = {"mx.example", "example.org"};
  c.domains.virtualdomains = {{"virt.example", "v"}};
  return c;
}

// How many picks each message got.
std::map<std::string, int> per_message(const std::vector<Pick>& picks) {
  std::map<std::string, int> out;
  for (auto& p : picks) ++out[p.id];
  return out;
}

}  // namespace

TEST_CASE("classify: locals, virtual domains and remote") {
  Controls c = sample_controls();
  Route r = classify(c, "Joe@Example.ORG");
  CHECK(r.channel == 'L');
  CHECK(r.address == "Joe@example.org");
  r = classify(c, "joe@virt.example");
  CHECK(r.channel == 'L');
  CHECK(r.address == "v-joe@virt.example");
  r = classify(c, "Joe@Far.Example");
  CHECK(r.channel == 'R');
  CHECK(r.address == "Joe@far.example");  // the domain lowercased, the local part kept
  r = classify(c, "joe");
  CHECK(r.channel == 'L');
}

TEST_CASE("retry schedule: qmail's squares, growing with age") {
  const std::time_t t0 = 1000000;
  // Local: tries at t0 + 100, 400, 900 ... (10 s steps, squared).
  CHECK(next_retry('L', t0, t0) == t0 + 100);
  CHECK(next_retry('L', t0, t0 + 99) == t0 + 100);
  CHECK(next_retry('L', t0, t0 + 100) == t0 + 400);
  CHECK(next_retry('L', t0, t0 + 401) == t0 + 900);
  // Remote: 20 s steps: t0 + 400, 1600, 3600 ...
  CHECK(next_retry('R', t0, t0) == t0 + 400);
  CHECK(next_retry('R', t0, t0 + 400) == t0 + 1600);
  // Always in the future, and the gaps grow.
  std::time_t prev = t0, prev_gap = 0;
  for (int i = 0; i < 30; ++i) {
    std::time_t next = next_retry('R', t0, prev);
    CHECK(next > prev);
    CHECK(next - prev >= prev_gap);
    prev_gap = next - prev;
    prev = next;
  }
  // A clock that went backwards counts as age 0, not as a try in the past.
  CHECK(next_retry('L', t0, t0 - 500) == t0 + 100);
}

TEST_CASE("lifetime: a deferral bounces only after queuelifetime") {
  const std::time_t t0 = 5000;
  CHECK_FALSE(lifetime_over(t0, t0 + 604800, 604800));
  CHECK(lifetime_over(t0, t0 + 604801, 604800));
  CHECK_FALSE(lifetime_over(t0, t0, 0));
  CHECK(lifetime_over(t0, t0 + 1, 0));
}

TEST_CASE("picker: one message cannot take every local slot") {
  Picker p(1);
  // A message to 1000 recipients sorts first; a later one has one recipient.
  for (std::size_t i = 0; i < 1000; ++i) p.offer("", "100", i);
  p.offer("", "999", 0);
  auto picks = p.take(10);
  REQUIRE(picks.size() == 10);
  CHECK(per_message(picks)["999"] == 1);
  for (auto& pick : picks) CHECK(pick.recipients.size() == 1);
}

TEST_CASE("picker: turns continue after the message served last") {
  Picker p(1);
  // Three messages, one slot at a time: each gets its turn in order,
  // whatever their ids, instead of the first id taking every slot.
  std::vector<std::string> order;
  for (int round = 0; round < 6; ++round) {
    for (std::size_t i = 0; i < 50; ++i) {
      p.offer("", "1", i);
      p.offer("", "2", i);
      p.offer("", "3", i);
    }
    auto picks = p.take(1);
    REQUIRE(picks.size() == 1);
    order.push_back(picks[0].id);
  }
  CHECK(order == std::vector<std::string>{"1", "2", "3", "1", "2", "3"});
}

TEST_CASE("picker: a message that arrives later still gets the next turn") {
  Picker p(1);
  for (std::size_t i = 0; i < 5; ++i) p.offer("", "5", i);
  CHECK(p.take(1)[0].id == "5");
  // A message whose id sorts earlier shows up: it is served next.
  for (std::size_t i = 0; i < 5; ++i) p.offer("", "5", i);
  p.offer("", "1", 0);
  CHECK(p.take(1)[0].id == "1");
}

TEST_CASE("picker: remote batches a message's recipients at one domain") {
  Picker p(100);
  p.offer("a.example", "7", 0);
  p.offer("b.example", "7", 1);
  p.offer("a.example", "7", 2);
  p.offer("a.example", "7", 5);
  auto picks = p.take(10);
  REQUIRE(picks.size() == 2);
  std::map<std::size_t, std::vector<std::size_t>> by_first;
  for (auto& pick : picks) by_first[pick.recipients[0]] = pick.recipients;
  CHECK(by_first[0] == std::vector<std::size_t>{0, 2, 5});
  CHECK(by_first[1] == std::vector<std::size_t>{1});
}

TEST_CASE("picker: a batch holds at most max_batch recipients") {
  Picker p(100);
  for (std::size_t i = 0; i < 250; ++i) p.offer("a.example", "7", i);
  auto picks = p.take(10);
  REQUIRE(picks.size() == 3);
  CHECK(picks[0].recipients.size() == 100);
  CHECK(picks[1].recipients.size() == 100);
  CHECK(picks[2].recipients.size() == 50);
  CHECK(picks[0].recipients.front() == 0);
  CHECK(picks[2].recipients.back() == 249);
}

TEST_CASE("picker: remote slots go round robin between domains") {
  Picker p(100);
  // One message to 200 domains, then one message to one other domain: with
  // two slots, the second message's domain gets one of them at once.
  for (std::size_t i = 0; i < 200; ++i) p.offer("d" + std::to_string(1000 + i) + ".example", "1", i);
  p.offer("zz.example", "2", 0);
  auto first = p.take(2);
  REQUIRE(first.size() == 2);
  // Every domain is served once before any is served twice.
  std::set<std::string> seen;
  for (int round = 0; round < 201; ++round) {
    for (std::size_t i = 0; i < 200; ++i) p.offer("d" + std::to_string(1000 + i) + ".example", "1", i);
    p.offer("zz.example", "2", 0);
    auto picks = p.take(1);
    REQUIRE(picks.size() == 1);
    seen.insert(picks[0].id + "/" + std::to_string(picks[0].recipients[0]));
  }
  CHECK(seen.size() == 201);
  CHECK(seen.count("2/0") == 1);
}

TEST_CASE("picker: messages at one busy domain take turns") {
  Picker p(100);
  // Both messages go to the same domain; one slot a call alternates them.
  std::vector<std::string> order;
  for (int round = 0; round < 4; ++round) {
    p.offer("big.example", "10", 0);
    p.offer("big.example", "20", 0);
    order.push_back(p.take(1).at(0).id);
  }
  CHECK(order == std::vector<std::string>{"10", "20", "10", "20"});
}

TEST_CASE("picker: no slots, no picks; offers do not pile up") {
  Picker p(1);
  p.offer("", "1", 0);
  CHECK(p.take(0).empty());
  CHECK(p.take(5).empty());  // the earlier offer was forgotten
  p.offer("", "1", 0);
  p.offer("", "1", 1);
  CHECK(p.take(5).size() == 2);
}
