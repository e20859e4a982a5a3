// Fuzz target: users/assign lines and their cdb values (src/lib/mail/
// assign): newu parses the file, getpw and lspawn decode the values, and
// the user, uid and home decide who a delivery runs as. Input: one line
// (also read as a cdb value). Checks: a parsed entry has an absolute home
// and a dash of "" or "-"; its value encodes and decodes to the same user;
// and the uid and gid written in the line are the ones decoded (a number
// too big for uid_t must not wrap to another user, least of all root).
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.hpp"
#include "common.hpp"
#include "mail/assign.hpp"

using namespace postern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto e = parse_assign_line(in, why)) {
    FUZZ_CHECK(e->key.size() >= 1 && (e->key[0] == '=' || e->key[0] == '+'), in);
    FUZZ_CHECK(!e->user.home.empty() && e->user.home[0] == '/', in);
    FUZZ_CHECK(e->user.dash.empty() || e->user.dash == "-", in);
    auto f = split(in.substr(1), ':');
    FUZZ_CHECK(std::to_string(e->user.uid) == std::to_string(*to_number(f[2])), in);
    FUZZ_CHECK(std::to_string(e->user.gid) == std::to_string(*to_number(f[3])), in);
    auto back = decode_mail_user(encode_mail_user(e->user));
    FUZZ_CHECK(back && back->user == e->user.user && back->uid == e->user.uid && back->gid == e->user.gid &&
                   back->home == e->user.home && back->dash == e->user.dash && back->ext == e->user.ext,
               in);
  } else {
    FUZZ_CHECK(!why.empty(), in);
  }
  if (auto u = decode_mail_user(in)) {
    auto again = encode_mail_user(*u);
    auto u2 = decode_mail_user(again);
    FUZZ_CHECK(u2 && u2->uid == u->uid && u2->home == u->home && encode_mail_user(*u2) == again, in);
  }
  return 0;
}
