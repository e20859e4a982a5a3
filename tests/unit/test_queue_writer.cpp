// Unit tests for the queue writer's protocol (mail/queue_wire) and its
// group commit (src/queued/group_sync): frames survive any cut of the
// stream, over-long frames are refused, every caller of a shared
// directory fsync is covered by exactly one fsync that began after it, and
// a message's own syncs run side by side (src/queued/overlap).
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "mail/queue_wire.hpp"
#include "queued/group_sync.hpp"
#include "queued/overlap.hpp"

using namespace postern;
namespace wire = postern::queue_wire;

TEST_CASE("queue_wire frames decode from a stream cut anywhere") {
  std::string stream = wire::encode(wire::Type::ready) + wire::encode(wire::Type::message, std::string(70000, 'm')) +
                       wire::encode(wire::Type::envelope, std::string("Fa@b\0Tc@d\0\0", 11)) +
                       wire::encode(wire::Type::end) + wire::encode_failure(91, "malformed envelope");
  for (std::size_t step : {1u, 3u, 4096u, 1u << 20}) {
    wire::Decoder d;
    std::vector<wire::Frame> got;
    for (std::size_t at = 0; at < stream.size(); at += step) {
      d.feed(std::string_view(stream).substr(at, step));
      wire::Frame f;
      while (d.next(f) == wire::Decoder::Result::frame) got.push_back(f);
    }
    REQUIRE(got.size() == 5);
    CHECK(got[0].type == wire::Type::ready);
    // A message piece is cut to 64 KB by encode: the rest goes in the next.
    CHECK(got[1].payload.size() == wire::max_chunk);
    CHECK(got[2].payload.size() == 11);
    CHECK(got[3].type == wire::Type::end);
    int code = 0;
    std::string text;
    CHECK(wire::decode_failure(got[4].payload, code, text));
    CHECK(code == 91);
    CHECK(text == "malformed envelope");
  }
}

TEST_CASE("queue_wire refuses unknown and over-long frames") {
  wire::Frame f;
  wire::Decoder unknown;
  unknown.feed(std::string("Z\0\0\0\0", 5));
  CHECK(unknown.next(f) == wire::Decoder::Result::bad);
  wire::Decoder too_long;
  too_long.feed(std::string("M\0\x01\0\x01", 5));
  CHECK(too_long.next(f) == wire::Decoder::Result::bad);
  wire::Decoder end_with_payload;
  end_with_payload.feed(std::string("F\0\0\0\x01x", 6));
  CHECK(end_with_payload.next(f) == wire::Decoder::Result::bad);
  int code = 0;
  std::string text;
  CHECK_FALSE(wire::decode_failure("0 zero", code, text));
  CHECK_FALSE(wire::decode_failure("256 big", code, text));
  CHECK_FALSE(wire::decode_failure("x1 word", code, text));
  CHECK_FALSE(wire::decode_failure("53", code, text));
}

TEST_CASE("group_sync covers every caller once, with an fsync begun after it") {
  char tmpl[] = "/tmp/postern-groupsync-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::atomic<std::size_t> covered {0}, syncs {0};
  queued::GroupSync sync(tmpl, [&](std::size_t batch) {
    covered += batch;
    ++syncs;
  });
  constexpr int threads = 16, rounds = 20;
  std::atomic<int> ok {0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int r = 0; r < rounds; ++r)
        if (sync.sync()) ++ok;
    });
  for (auto& t : pool) t.join();
  CHECK(ok == threads * rounds);
  CHECK(covered == threads * rounds);
  CHECK(syncs <= covered);
  CHECK_FALSE(queued::GroupSync("/nonexistent/postern-dir").sync());
  ::rmdir(tmpl);
}

TEST_CASE("overlap runs a message's syncs side by side, and each exactly once") {
  queued::Overlap overlap(4);
  // Side by side: each of three jobs waits until all three have begun,
  // which one after the other they never would (bounded, so a serial run
  // fails instead of hanging).
  std::atomic<int> begun {0};
  auto rendezvous = [&] {
    ++begun;
    for (int i = 0; i < 2000 && begun < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return begun == 3;
  };
  CHECK(overlap.all({rendezvous, rendezvous, rendezvous}));

  // Every job runs once; one false makes the whole false, the others
  // still run.
  std::atomic<int> runs {0};
  auto yes = [&] { ++runs; return true; };
  auto no = [&] { ++runs; return false; };
  CHECK_FALSE(overlap.all({yes, no, yes}));
  CHECK_FALSE(overlap.all({no, yes, yes}));
  CHECK(overlap.all({yes}));
  CHECK(runs == 7);

  // Many callers at once, more than the helpers: none waits forever, each
  // gets its own answer.
  std::atomic<int> right {0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 16; ++t)
    callers.emplace_back([&, t] {
      for (int r = 0; r < 50; ++r) {
        bool want = (t + r) % 5 != 0;
        auto mine = [want] { return want; };
        if (overlap.all({yes, mine, yes}) == want) ++right;
      }
    });
  for (auto& t : callers) t.join();
  CHECK(right == 16 * 50);
}

TEST_CASE("overlap without helpers runs everything in the caller") {
  queued::Overlap overlap(0);
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> here {0};
  auto job = [&] { if (std::this_thread::get_id() == caller) ++here; return true; };
  CHECK(overlap.all({job, job, job}));
  CHECK(here == 3);
}
