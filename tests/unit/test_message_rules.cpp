// Unit tests for mail/message_rules: the rules smtpd and inject share (no
// NUL, a bounded header, no loop), and that its header ends exactly where
// header::split_message ends it, for any input and any cut into pieces.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "mail/header.hpp"
#include "mail/message_rules.hpp"

using namespace postern;
using message_rules::Checker;
using message_rules::Problem;
using namespace std::literals;

namespace {

Checker check(std::string_view text, std::size_t max_header = message_rules::max_header, int max_hops = 100) {
  Checker c(max_header, max_hops);
  c.feed(text);
  return c;
}

// Where the checker's header ends: the start of the line whose byte ended
// it (the blank line or the first body line), or the size when it did not.
std::size_t header_end(std::string_view text, std::size_t piece) {
  Checker c;
  for (std::size_t i = 0; i < text.size(); i += piece) {
    std::string_view p = text.substr(i, piece);
    for (std::size_t j = 0; j < p.size(); ++j) {
      c.feed(p.substr(j, 1));
      if (!c.in_header()) {
        std::size_t at = i + j;
        std::size_t nl = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
        return nl == std::string_view::npos ? 0 : nl + 1;
      }
    }
  }
  return text.size();
}

}  // namespace

TEST_CASE("a NUL byte anywhere is a problem") {
  CHECK(check("Subject: a\n\nbody\n").problem() == Problem::none);
  CHECK(check("Subject: a\0b\n\nbody\n"s).problem() == Problem::nul);
  CHECK(check("Subject: a\n\nbo\0dy\n"s).problem() == Problem::nul);
  CHECK(check("\0"s).problem() == Problem::nul);
  Checker c;
  c.feed("Subject: a\n\n");
  c.feed(std::string(100000, 'x'));
  c.feed(std::string_view("\0", 1));
  CHECK(c.problem() == Problem::nul);
}

TEST_CASE("the header is bounded in bytes, however its lines are cut") {
  std::string one_line = "X-Big: " + std::string(1 << 20, 'x') + "\n\nbody\n";
  CHECK(check(one_line).problem() == Problem::header_too_big);
  std::string many;
  for (int i = 0; i < 400; ++i) many += "X-Filler: " + std::string(1000, 'z') + "\n";
  CHECK(check(many + "\nbody\n").problem() == Problem::header_too_big);
  std::string folded = "X-Folded: a\n";
  for (int i = 0; i < 300; ++i) folded += "\t" + std::string(1000, 'f') + "\n";
  CHECK(check(folded + "\nbody\n").problem() == Problem::header_too_big);
  // Just under the bound passes.
  std::string fits = "X: " + std::string(message_rules::max_header - 5, 'y') + "\n";
  CHECK(fits.size() == message_rules::max_header - 1);
  CHECK(check(fits + "\nbody\n").problem() == Problem::none);
}

TEST_CASE("body lines of any length are fine, even the first line of a message with no header") {
  CHECK(check("Subject: a\n\n" + std::string(1 << 21, 'b') + "\n").problem() == Problem::none);
  auto c = check(std::string(1 << 21, 'b') + "\n");
  CHECK(c.problem() == Problem::none);
  CHECK(!c.in_header());
  CHECK(c.header_bytes() == 999);  // decided at the 999th byte with no colon
  // Within 998 bytes a colon makes a field (whatever its length).
  CHECK(check(std::string(997, 'n') + ":\n\nbody\n").hops() == 0);
  CHECK(!check(std::string(998, 'n') + ":\n").in_header());
  // A long line that is no field (a space before its colon breaks no
  // rule, a word after the space does) is body as soon as that shows.
  CHECK(check("Subject a: " + std::string(1 << 20, 'b') + "\n").problem() == Problem::none);
}

TEST_CASE("Received and Delivered-To fields in the header are counted") {
  std::string three = "Received: a\n\tb\nreceived: c\nDELIVERED-TO: d\nX-Received: e\n";
  auto c = check(three + "\nReceived: in the body\n", message_rules::max_header, 3);
  CHECK(c.hops() == 3);
  CHECK(c.problem() == Problem::none);
  CHECK(check(three + "Received : e\n\n", message_rules::max_header, 3).problem() == Problem::too_many_hops);
  CHECK(check("Received: a\nnot a field\nReceived: b\nReceived: c\nReceived: d\n", message_rules::max_header, 3)
            .problem() == Problem::none);
}

TEST_CASE("the header ends where header::split_message ends it") {
  const char* cases[] = {
      "Subject: a\n\nbody\n", "Subject: a\n \t\nbody\n", "Subject: a\n\r\nbody\n", "Subject: a\n cont\nx\n",
      " lead\nSubject: a\n", "\r x\n", "Name : v\nName x: v\n", "a\n", ":x\n", "\n", "Subject: a",
      "S: a\n\tb\n\t\n"};
  for (const char* in : cases) {
    auto split = header::split_message(in);
    std::string_view text(in);
    std::size_t expect = text.size() - split.body.size();
    // A blank line ending the header belongs to neither part.
    if (expect > 0 && split.body.size() < text.size() && header::is_blank(text.substr(0, expect).substr(
                                                               text.substr(0, expect - 1).rfind('\n') + 1)))
      expect = text.substr(0, expect - 1).rfind('\n') + 1;
    INFO("input: " << in);
    CHECK(header_end(text, 1000) == expect);
  }
}

TEST_CASE("random headers: the same end as split_message, and any cut gives the same result") {
  std::mt19937 rng(5322);
  const char alphabet[] = {'a', 'R', ':', ' ', '\t', '\r', '\n', '\n', '-', 'x'};
  for (int n = 0; n < 20000; ++n) {
    std::string text;
    std::size_t len = rng() % 40;
    for (std::size_t i = 0; i < len; ++i) text += alphabet[rng() % sizeof alphabet];
    auto split = header::split_message(text);
    std::size_t body_start = text.size() - split.body.size();
    std::size_t end = header_end(text, 1 + rng() % 7);
    INFO("input: " << text);
    // The checker's header ends at body_start when a body line ended it, or
    // at the start of the blank line that split_message consumed. A last
    // line without its LF may be left undecided: nothing more comes.
    std::size_t last_line = text.empty() ? 0 : text.rfind('\n', text.size() - 1);
    last_line = last_line == std::string::npos ? 0 : last_line + 1;
    bool undecided = end == text.size() && !text.empty() && text.back() != '\n' && body_start >= last_line;
    if (end != body_start && !undecided) {
      REQUIRE(body_start > end);
      CHECK(header::is_blank(std::string_view(text).substr(end, body_start - end)));
    }
    auto whole = check(text, 20, 1);
    Checker cut(20, 1);
    for (std::size_t i = 0; i < text.size(); i += 3) cut.feed(std::string_view(text).substr(i, 3));
    CHECK(cut.problem() == whole.problem());
    CHECK(cut.hops() == whole.hops());
  }
}
