// Fuzz target: the queue envelope (src/lib/mail/envelope), which queue
// reads from whoever runs it (any local user) and send reads from todo/.
// Input: the envelope bytes. Checks: what decodes has valid addresses and
// encodes back to exactly the input (one spelling per envelope).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/address.hpp"
#include "mail/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = postern::decode_envelope(in);
  if (!e) return 0;
  FUZZ_CHECK(!e->recipients.empty(), in);
  FUZZ_CHECK(postern::valid_envelope_address(e->sender), e->sender);
  for (auto& r : e->recipients) FUZZ_CHECK(!r.empty() && postern::valid_envelope_address(r), r);
  FUZZ_CHECK(postern::encode_envelope(*e) == in, in);
  return 0;
}
