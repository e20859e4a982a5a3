// Fuzz target: IMAP command reading and parsing (src/lib/imap/imap_parse),
// the first code that sees a client's bytes in both imapd stages. Input:
// [cut sizes "\0\0\0"] the bytes of one or more commands. Each command is
// read with read_command (small limits, so the too-long and literal paths
// run), then walked with every Parser method the way the commands use
// them. Checks: a read command fits its limits; what quote, literal_of and
// astring_out write parses back to the same string; a parsed sequence set
// holds only valid numbers and "*". AUTHENTICATE PLAIN's initial response
// (SASL-IR) goes through the pre-auth stage's judge_plain (src/lib/login/sasl_plain):
// a login it lets through has a valid user, a password within bounds and
// no other authorization identity; "*" always cancels.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_parse.hpp"
#include "login/sasl_plain.hpp"
#include "login/login_request.hpp"

using namespace postern;
using namespace postern::imap;

namespace {

void round_trip(std::string_view s) {
  {
    std::string q = quote(s);
    Parser p(q);
    auto back = p.string();
    FUZZ_CHECK(back && *back == s && p.at_end(), q);
  }
  {
    std::string a = astring_out(s);
    Parser p(a);
    auto back = p.astring();
    FUZZ_CHECK(back && *back == s && p.at_end(), a);
  }
}

void judge(std::string_view response) {
  postern::login::PlainLogin got;
  auto v = postern::login::judge_plain(response, got);
  if (response == "*") FUZZ_CHECK(v == postern::login::PlainVerdict::cancelled, response);
  if (v != postern::login::PlainVerdict::login) return;
  FUZZ_CHECK(login::valid_user(got.user), response);
  FUZZ_CHECK(!got.password.empty() && got.password.size() <= login::max_password, response);
  auto plain = login::decode_plain(response == "=" ? std::string_view() : response);
  FUZZ_CHECK(plain && plain->authcid == got.user && plain->password == got.password, response);
  FUZZ_CHECK(plain->authzid.empty() || plain->authzid == got.user, response);
}

// AUTHENTICATE mechanism [initial-response], read as imapd's pre-auth
// stage reads it.
void authenticate(const std::string& cmd) {
  Parser p(cmd);
  auto tag = p.atom();
  if (!tag || !p.sp()) return;
  auto verb = p.atom();
  if (!verb || upper(*verb) != "AUTHENTICATE" || !p.sp()) return;
  auto mech = p.atom();
  if (!mech || !p.sp()) return;
  auto ir = p.atom("=");
  if (ir && p.eol()) judge(*ir);
}

void walk(const std::string& cmd) {
  authenticate(cmd);
  judge(cmd);
  (void)tag_of(cmd);
  Parser p(cmd);
  auto tag = p.atom();
  if (!tag || !p.sp()) return;
  round_trip(*tag);
  auto verb = p.atom();
  if (!verb) return;
  for (int steps = 0; steps < 200 && !p.at_end() && !p.eol(); ++steps) {
    std::size_t before = p.pos();
    char c = p.peek();
    if (c == ' ') {
      p.sp();
    } else if (c == '(') {
      auto f = p.flag_list(false);
      if (!f) p.accept('(');
    } else if (c == '"' || c == '{') {
      auto s = p.string();
      if (s) {
        round_trip(*s);
        (void)parse_date(*s);
        (void)parse_date_time(*s);
        (void)rfc5322_day(*s);
        (void)rfc5322_time(*s);
      } else {
        p.accept(c);
      }
    } else if (c >= '0' && c <= '9') {
      std::size_t save = p.pos();
      (void)p.number64();
      p.set_pos(save);
      auto w = p.word();
      if (auto set = parse_seqset(w)) {
        for (auto [a, b] : *set) {
          FUZZ_CHECK(a <= b, w);  // "*" is 0: it sorts first
          FUZZ_CHECK(seq_contains(*set, a == star ? 7 : a, 7), w);
        }
      }
    } else if (c == '\\') {
      if (!p.flag()) p.accept('\\');
    } else if (c == '*' || c == '%') {
      if (!p.list_mailbox()) p.accept(c);
    } else {
      auto a = p.astring();
      if (a) {
        (void)parse_date(*a);
        (void)parse_seqset(*a);
      } else {
        p.set_pos(p.pos() + 1);
      }
    }
    FUZZ_CHECK(p.pos() > before && p.pos() <= cmd.size(), cmd);
  }
  (void)rfc5322_time(p.rest());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view cuts, input;
  fuzz::split_settings(data, size, cuts, input);
  fuzz::FeedTransport t(input, cuts);
  NetIO io(t, 1);
  Limits lim;
  lim.max_line = 300;
  lim.max_literal = 200;
  lim.max_command = 1000;
  std::string cmd;
  for (int n = 0; n < 100; ++n) {
    auto r = read_command(io, lim, cmd);
    if (r == ReadStatus::eof || r == ReadStatus::error || r == ReadStatus::timeout ||
        r == ReadStatus::literal_plus_big)
      break;
    if (r != ReadStatus::ok) continue;
    FUZZ_CHECK(cmd.size() <= lim.max_command + lim.max_line + 2, cmd);
    walk(cmd);
  }
  return 0;
}
