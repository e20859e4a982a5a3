// Fuzz target: what the user's session reads from and writes to an owner's
// process when it relays a shared folder (src/imapd-mailbox/relay_text):
// literal markers, a command made LITERAL+, a FETCH response's message and
// an APPENDUID. Input: any bytes, as a response and as a command. Checks
// that a parsed message lies within the response, that LITERAL+ leaves no
// synchronizing marker on a line outside a literal and ends in CRLF.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imapd-mailbox/relay_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  if (auto f = imapd::parse_fetched(in)) FUZZ_CHECK(f->data.size() <= in.size(), in);
  imapd::appenduid(in);
  if (auto m = imapd::literal_at_end(in)) FUZZ_CHECK(m->size <= 9999999999ull, in);
  std::string out = imapd::literal_plus(in);
  FUZZ_CHECK(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0, in);
  FUZZ_CHECK(out.size() <= in.size() * 2 + 2, in);
  return 0;
}
