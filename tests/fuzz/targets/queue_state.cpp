// Fuzz target: send's state records (src/lib/mail/queue_state), which
// mailq and send read back from queue/state. Input: a record. Checks:
// what decodes is sane (valid addresses, known channels and states), and
// writing it out again gives a record that reads back the same, so a
// record send rewrites never turns unreadable, and rewrites settle.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/queue_state.hpp"

using namespace postern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = decode_state(in);
  if (!m) return 0;
  FUZZ_CHECK(!m->recipients.empty(), in);
  for (auto& r : m->recipients) {
    FUZZ_CHECK(r.channel == 'L' || r.channel == 'R', in);
    FUZZ_CHECK(std::string_view("PDBX").find(r.state) != std::string_view::npos, in);
  }
  std::string again = encode_state(*m);
  auto m2 = decode_state(again);
  FUZZ_CHECK(m2.has_value(), again);
  FUZZ_CHECK(m2->sender == m->sender && m2->arrived == m->arrived && m2->recipients.size() == m->recipients.size(),
             again);
  for (std::size_t i = 0; i < m->recipients.size(); ++i) {
    auto &a = m->recipients[i], &b = m2->recipients[i];
    FUZZ_CHECK(a.address == b.address && a.channel == b.channel && a.state == b.state && a.attempts == b.attempts &&
                   a.next_try == b.next_try,
               again);
  }
  // The reason is made printable and cut at about 1000 bytes when written
  // (it may shrink by a few bytes once more on the next rewrite, no more).
  for (auto& r : m2->recipients) FUZZ_CHECK(r.reason.size() <= 1000 + 4 + 3, r.reason);
  auto m3 = decode_state(encode_state(*m2));
  FUZZ_CHECK(m3 && encode_state(*m3) == encode_state(*m2), again);
  return 0;
}
