// Fuzz target: envelope addresses (src/lib/mail/address), as smtpd takes
// them from MAIL and RCPT. Input: any bytes, one address. Checks that
// split_address loses no byte and that valid_envelope_address never
// accepts what the queue's files could not hold (control bytes, tabs,
// newlines, more than 1000 bytes).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  postern::Address a = postern::split_address(in);
  bool has_at = in.find('@') != std::string_view::npos;
  FUZZ_CHECK((has_at ? a.local + "@" + a.domain : a.local) == in, in);
  FUZZ_CHECK(a.domain.find('@') == std::string::npos, in);
  if (postern::valid_envelope_address(in)) {
    FUZZ_CHECK(in.size() <= 1000, in);
    for (unsigned char c : in) FUZZ_CHECK(c >= 32 && c != 127, in);
  }
  return 0;
}
