// Fuzz target: POP3 (src/lib/pop3): command lines from the client, and the
// transfer form of a stored message (which anyone who can send mail
// writes). Input: [command line "\0\0\0"] a stored message; the first
// byte of the command line also picks TOP's line count. Checks: a parsed
// verb is 1-8 upper-case letters; a message number is in range; the
// transfer form ends in CRLF "." CRLF and holds no earlier end (no line "."
// a client would stop at), every LF in it follows a CR, and a client
// undoing it gets the stored lines back; TOP sends a prefix of RETR's
// lines; unique ids are 1-70 printable bytes. AUTH PLAIN's response
// (the initial response, or the line after "+ ") goes through pop3d's own
// judge_plain (src/lib/login/sasl_plain): a login it lets through has a valid
// user, a password within bounds and no other authorization identity.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "login/login_request.hpp"
#include "pop3/pop3.hpp"
#include "login/sasl_plain.hpp"

using namespace postern::pop3;

namespace {

std::string transfer(std::string_view msg, long long lines, std::size_t cut) {
  Transfer t(lines);
  std::string out;
  t.feed(msg.substr(0, cut), out);
  if (!t.done()) t.feed(msg.substr(cut), out);
  t.finish(out);
  return out;
}

void judge(std::string_view response) {
  postern::login::PlainLogin got;
  auto v = postern::login::judge_plain(response, got);
  if (response == "*") FUZZ_CHECK(v == postern::login::PlainVerdict::cancelled, response);
  if (v != postern::login::PlainVerdict::login) return;
  FUZZ_CHECK(postern::login::valid_user(got.user), response);
  FUZZ_CHECK(!got.password.empty() && got.password.size() <= postern::login::max_password, response);
  auto plain = postern::login::decode_plain(response == "=" ? std::string_view() : response);
  FUZZ_CHECK(plain && plain->authcid == got.user && plain->password == got.password, response);
  FUZZ_CHECK(plain->authzid.empty() || plain->authzid == got.user, response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line, msg;
  fuzz::split_settings(data, size, line, msg);
  if (auto c = parse_command(line)) {
    FUZZ_CHECK(!c->verb.empty() && c->verb.size() <= 8, c->verb);
    for (char ch : c->verb) FUZZ_CHECK(ch >= 'A' && ch <= 'Z', c->verb);
    for (auto& a : c->args) {
      if (auto n = message_number(a, 5)) FUZZ_CHECK(*n >= 1 && *n <= 5, a);
      (void)count(a);
    }
    if (c->verb == "AUTH" && c->args.size() == 2) judge(c->args[1]);
  }
  std::string_view response = line;
  while (!response.empty() && (response.back() == '\n' || response.back() == '\r')) response.remove_suffix(1);
  judge(response);
  auto id = uidl_of(line);
  FUZZ_CHECK(!id.empty() && id.size() <= 70, id);
  for (unsigned char ch : id) FUZZ_CHECK(ch >= 0x21 && ch <= 0x7e, id);

  std::size_t cut = line.empty() ? msg.size() / 2 : static_cast<unsigned char>(line[0]) % (msg.size() + 1);
  std::string full = transfer(msg, -1, cut);
  FUZZ_CHECK(full.size() >= 3 && full.compare(full.size() - 3, 3, ".\r\n") == 0, full);
  std::string framed = "\r\n" + full;
  FUZZ_CHECK(framed.find("\r\n.\r\n") == framed.size() - 5, full);
  for (std::size_t i = 0; i < full.size(); ++i)
    if (full[i] == '\n') FUZZ_CHECK(i > 0 && full[i - 1] == '\r', full);

  // A client's view: lines split at CRLF, the last "." dropped, one leading
  // dot removed from each line.
  std::string got;
  std::string_view body = std::string_view(full).substr(0, full.size() - 3);
  bool start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (start && body[i] == '.') {
      start = false;
      continue;
    }
    start = body[i] == '\n';
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    got += body[i];
  }
  std::string want(msg);
  for (std::size_t i = 0; i + 1 < want.size();)
    if (want[i] == '\r' && want[i + 1] == '\n') want.erase(i, 1);
    else ++i;
  if (!want.empty() && want.back() != '\n') want += '\n';
  FUZZ_CHECK(got == want, full);

  long long lines = line.empty() ? 0 : static_cast<unsigned char>(line[0]) % 5;
  std::string top = transfer(msg, lines, cut);
  FUZZ_CHECK(top.size() >= 3 && top.compare(top.size() - 3, 3, ".\r\n") == 0, top);
  std::string tframed = "\r\n" + top;
  FUZZ_CHECK(tframed.find("\r\n.\r\n") == tframed.size() - 5, top);
  FUZZ_CHECK(full.compare(0, top.size() - 3, top, 0, top.size() - 3) == 0, top);
  return 0;
}
