// Fuzz target: postern-state (parse_state in src/lib/imap/imap_modseq),
// postern's own log of \Recent claims, MODSEQs and expunges, which a
// crash may cut anywhere and the user may edit. Input: a whole file.
// Checks: the highest MODSEQ is at least every message's and expunge's
// and below 2^63; flags hold no space or '/'; the compacted file reads
// back to the same state.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_modseq.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = parse_state(in);
  if (!s) return 0;
  FUZZ_CHECK(s->validity != 0 && s->highest < (1ULL << 63) && s->good_bytes <= in.size(), in);
  for (auto& [uid, m] : s->msgs) {
    FUZZ_CHECK(uid != 0 && m.modseq <= s->highest, in);
    FUZZ_CHECK(m.flags.find_first_of(" /\n") == std::string::npos, m.flags);
  }
  for (auto& [uid, m] : s->expunged) FUZZ_CHECK(uid != 0 && m <= s->highest, in);
  std::string text = format_state(*s);
  auto again = parse_state(text);
  FUZZ_CHECK(again && again->validity == s->validity && again->highest == s->highest &&
                 again->recent_from == s->recent_from && again->expunged == s->expunged &&
                 again->history_from == s->history_from,
             text);
  FUZZ_CHECK(again->msgs.size() == s->msgs.size(), text);
  for (auto& [uid, m] : s->msgs) {
    auto it = again->msgs.find(uid);
    FUZZ_CHECK(it != again->msgs.end() && it->second.modseq == m.modseq && it->second.flags == m.flags &&
                   it->second.vsize == m.vsize,
               text);
  }
  return 0;
}
