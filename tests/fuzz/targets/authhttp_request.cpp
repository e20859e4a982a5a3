// Fuzz target: nginx's auth_http request as authhttp reads it
// (src/authhttp/auth_request). Input: any bytes, as they come from the
// port. Checks that a request is taken only when it is whole, that what it
// gives is bounded, and that its answers stay single header blocks.
#include <cstdint>
#include <string>
#include <string_view>

#include "authhttp/auth_request.hpp"
#include "common.hpp"

using namespace postern::authhttp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto r = parse_auth_request(in, why);
  if (!r) {
    FUZZ_CHECK(!why.empty(), in);
    return 0;
  }
  FUZZ_CHECK(complete(in), in);
  FUZZ_CHECK(r->user.size() <= 256 && r->password.size() <= 512, in);
  FUZZ_CHECK(r->protocol == "imap" || r->protocol == "pop3" || r->protocol == "smtp", in);
  for (char c : r->user) FUZZ_CHECK(static_cast<unsigned char>(c) >= 32 && c != 127, in);
  std::string t = answer_temporary(r->protocol);
  FUZZ_CHECK(t.find("\r\n\r\n") == t.size() - 4, in);
  return 0;
}
