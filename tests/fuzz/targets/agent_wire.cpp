// Fuzz target: the records lspawn exchanges with its lookup process and
// its delivery agents (src/lib/delivery/agent_wire): the answers come from
// less privileged processes (posternp, a mail user) and root decodes them.
// Input: one record, read as a lookup answer, an agent answer and an agent
// request. Checks: what decodes is within its bounds (no uid past uid_t, a
// known exit code, a printable text of at most max_answer_text bytes) and
// encodes to a record that decodes to the same thing.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "delivery/agent_wire.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::delivery;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto a = decode_lookup_answer(in)) {
    FUZZ_CHECK(a->user.has_value() != !a->error.empty(), in);
    if (a->user) FUZZ_CHECK(!a->user->home.empty() && a->user->home[0] == '/', in);
    else FUZZ_CHECK(a->error.size() <= max_answer_text, in);
    std::string again = encode_lookup_answer(*a);
    FUZZ_CHECK(again.size() <= max_record, again);
    auto a2 = decode_lookup_answer(again);
    FUZZ_CHECK(a2 && a2->user.has_value() == a->user.has_value(), again);
    if (a->user)
      FUZZ_CHECK(a2->user->uid == a->user->uid && a2->user->gid == a->user->gid && a2->user->home == a->user->home &&
                     a2->user->user == a->user->user && a2->user->ext == a->user->ext,
                 again);
  }
  if (auto a = decode_agent_answer(in)) {
    const Outcome& o = a->outcome;
    FUZZ_CHECK(o.code == status::ok || o.code == status::ok_stop || o.code == status::permanent ||
                   o.code == status::temporary,
               in);
    FUZZ_CHECK(o.text.size() <= max_answer_text, in);
    auto a2 = decode_agent_answer(encode_agent_answer(*a));
    FUZZ_CHECK(a2 && a2->outcome.code == o.code && a2->last == a->last, in);
    // Made printable and cut when encoded: a second encoding is stable.
    auto a3 = decode_agent_answer(encode_agent_answer(*a2));
    FUZZ_CHECK(a3 && encode_agent_answer(*a3) == encode_agent_answer(*a2), in);
  }
  if (auto r = decode_agent_request(in)) {
    std::string again = encode_agent_request(*r);
    FUZZ_CHECK(again == in, again);
  }
  return 0;
}
