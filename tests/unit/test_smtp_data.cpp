// Unit tests for src/lib/smtp_data: the end of DATA, dot stuffing, CRLF to
// LF, and the refusal of every SMTP smuggling variant (bare LF, lone CR).
#include <catch2/catch.hpp>

#include <random>

#include "smtpd/smtp_data.hpp"

using namespace postern::smtp;
using namespace std::literals;

namespace {

struct Result {
  bool ended = false;
  std::size_t consumed = 0;  // bytes of input up to and including the end line
  Problem problem = Problem::none;
  std::string text;
};

// Splits input as NetIO::line would (lines through '\n', pieces of at most
// max bytes) and runs the decoder until the end of DATA.
Result decode(std::string_view input, std::size_t max = 65536, Limits limits = {}) {
  Result r;
  MessageText text(limits);
  DataDecoder dec(text);
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t nl = input.find('\n', pos);
    std::size_t len = nl == std::string_view::npos ? input.size() - pos : nl + 1 - pos;
    if (len > max) len = max;
    std::string_view piece = input.substr(pos, len);
    pos += len;
    if (dec.piece(piece)) {
      r.ended = true;
      break;
    }
  }
  text.finish();
  r.consumed = pos;
  r.problem = text.problem();
  r.text = text.take();
  return r;
}

}  // namespace

TEST_CASE("CRLF.CRLF ends DATA; CRLF becomes LF") {
  auto r = decode("Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\n");
  CHECK(r.ended);
  CHECK(r.problem == Problem::none);
  CHECK(r.text == "Subject: x\n\nbody\n");
  CHECK(r.consumed == std::string_view("Subject: x\r\n\r\nbody\r\n.\r\n").size());
}

TEST_CASE("an immediate end gives an empty message") {
  auto r = decode(".\r\n");
  CHECK(r.ended);
  CHECK(r.text.empty());
}

TEST_CASE("dot stuffing is undone") {
  auto r = decode("..\r\n..x\r\n.y\r\n.\r\n");
  CHECK(r.ended);
  CHECK(r.text == ".\n.x\ny\n");
}

TEST_CASE("smuggling variants never end DATA and are refused") {
  // Each holds a would-be end, a smuggled message, and then the real end.
  const char* ends[] = {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\n.\r",
                        "\r\n\n.\r\n", "\r\n.\n\r\n"};
  for (const char* e : ends) {
    std::string smuggled = "Subject: x\r\n\r\nfirst" + std::string(e) +
                           "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n.\r\n";
    auto r = decode(smuggled);
    INFO("variant " << e);
    CHECK(r.ended);
    CHECK(r.consumed == smuggled.size());  // only the real CRLF.CRLF ended it
    CHECK((r.problem == Problem::bare_lf || r.problem == Problem::lone_cr));
    CHECK(r.text.find("evil") == std::string::npos);
  }
}

TEST_CASE("a lone CR before a real CRLF.CRLF: the end is real, the message refused") {
  auto r = decode("first\r\r\n.\r\nMAIL FROM:<a@b>\r\n");
  CHECK(r.ended);
  CHECK(r.consumed == 11);
  CHECK(r.problem == Problem::lone_cr);
}

TEST_CASE("a bare LF line alone is refused; a lone CR at the very end too") {
  CHECK(decode("a\nb\r\n.\r\n").problem == Problem::bare_lf);
  CHECK(decode("a\rb\r\n.\r\n").problem == Problem::lone_cr);
  CHECK(decode("a\r").problem == Problem::lone_cr);
}

TEST_CASE("a dot line after a bare LF line is text, not the end") {
  auto r = decode("x\n.\r\nmore\r\n.\r\n");
  CHECK(r.ended);
  CHECK(r.consumed == std::string("x\n.\r\nmore\r\n.\r\n").size());
  CHECK(r.problem == Problem::bare_lf);
}

TEST_CASE("long lines arrive in pieces; a CRLF split between pieces is fine") {
  std::string line(100, 'a');
  auto r = decode(line + "\r\n.\r\n", 7);
  CHECK(r.ended);
  CHECK(r.problem == Problem::none);
  CHECK(r.text == line + "\n");
  // A piece that is "." + CRLF in the middle of a long line is no end.
  auto r2 = decode("abcdefg.\r\nz\r\n.\r\n", 7);
  CHECK(r2.text == "abcdefg.\nz\n");
  // A CR at the end of one piece and LF at the start of the next.
  auto r3 = decode("abcdef\r\n.\r\n", 7);
  CHECK(r3.problem == Problem::none);
  CHECK(r3.text == "abcdef\n");
}

TEST_CASE("a NUL byte refuses the message but ends nothing") {
  std::string in = "Subject: x\r\n\r\na\0b\r\n\0.\r\nmore\r\n.\r\nMAIL FROM:<a@b>\r\n"s;
  auto r = decode(in);
  CHECK(r.ended);
  CHECK(r.consumed == in.size() - std::string_view("MAIL FROM:<a@b>\r\n").size());
  CHECK(r.problem == Problem::nul);
  CHECK(r.text.empty());  // nothing comes out for the queue
  CHECK(problem_text(Problem::nul) == "the message contains a NUL byte");
}

TEST_CASE("the first problem in the text is the one reported") {
  CHECK(decode("a\0b\nc\r\n.\r\n"s).problem == Problem::nul);
  CHECK(decode("a\nb\0c\r\n.\r\n"s).problem == Problem::bare_lf);
  for (std::size_t max = 3; max < 12; ++max)
    CHECK(decode("ab\0\rc\r\n.\r\n"s, max).problem == Problem::nul);
}

TEST_CASE("size limit") {
  Limits l;
  l.max_bytes = 10;
  CHECK(decode("0123456789\r\n.\r\n", 65536, l).problem == Problem::too_big);
  CHECK(decode("012345678\r\n.\r\n", 65536, l).problem == Problem::none);
}

TEST_CASE("hops: Received and Delivered-To fields in the header") {
  Limits l;
  l.max_hops = 3;
  std::string three = "Received: a\r\n\tb\r\nreceived: c\r\nDelivered-To: d\r\n";
  CHECK(decode(three + "\r\nReceived: in the body\r\n.\r\n", 65536, l).problem == Problem::none);
  auto r = decode(three + "RECEIVED: e\r\n\r\n.\r\n", 65536, l);
  CHECK(r.problem == Problem::too_many_hops);
  // A line that is no field ends the header.
  CHECK(decode("Received: a\r\nnot a field\r\nReceived: b\r\nReceived: c\r\nReceived: d\r\n.\r\n", 65536, l)
            .problem == Problem::none);
}

TEST_CASE("header size limit") {
  Limits l;
  l.max_header = 100;
  std::string big = "X-Long: " + std::string(200, 'x') + "\r\n";
  CHECK(decode(big + "\r\nbody\r\n.\r\n", 65536, l).problem == Problem::header_too_big);
  CHECK(decode("X: y\r\n\r\n" + std::string(500, 'b') + "\r\n.\r\n", 65536, l).problem == Problem::none);
}

TEST_CASE("the result does not depend on how the input is cut into pieces") {
  const char* inputs[] = {
      "Subject: x\r\n\r\n..a\r\nb\r\n.\r\n",
      "Received: a\r\n\r\nx\n.\nMAIL FROM:<a@b>\r\n.\r\n",
      "a\r\r\n.\r\n",
      "a\r\n.\r\r\n.\r\n",
      "h: v\r\n continued\r\n\r\n" "\r\n.\r\n",
  };
  for (const char* in : inputs) {
    auto whole = decode(in);
    for (std::size_t max = 3; max < 20; ++max) {  // NetIO never cuts a 3-byte line
      auto cut = decode(in, max);
      INFO("input " << in << " max " << max);
      CHECK(cut.ended == whole.ended);
      CHECK(cut.consumed == whole.consumed);
      CHECK(cut.problem == whole.problem);
      CHECK(cut.text == whole.text);
    }
  }
}

TEST_CASE("random text: the same result however it is cut into pieces") {
  std::mt19937 rng(5321);
  const char alphabet[] = {'a', 'R', ':', ' ', '.', '\r', '\n', '\r', '\n', '\0'};
  Limits l;
  l.max_header = 12;
  l.max_hops = 1;
  for (int n = 0; n < 5000; ++n) {
    std::string in;
    std::size_t len = rng() % 30;
    for (std::size_t i = 0; i < len; ++i) in += alphabet[rng() % sizeof alphabet];
    in += "\r\n.\r\n";
    auto whole = decode(in, 65536, l);
    auto cut = decode(in, 3 + rng() % 6, l);
    INFO("input " << in);
    CHECK(cut.ended == whole.ended);
    CHECK(cut.consumed == whole.consumed);
    CHECK(cut.problem == whole.problem);
    CHECK(cut.text == whole.text);
  }
}
