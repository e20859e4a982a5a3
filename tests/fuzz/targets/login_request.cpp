// Fuzz target: login requests (src/lib/login/login_request): AUTH PLAIN
// and AUTHENTICATE PLAIN responses from the network, and the
// checkpassword request on descriptor 3 that checkpassword (root) reads
// from the unprivileged pre-auth stage. Input: the bytes, read both ways.
// Checks: decoded names are valid user names within bounds; a decoded
// request encodes back to the bytes it came from (up to encoded_size).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "login/login_request.hpp"

using namespace postern::login;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto p = decode_plain(in)) {
    FUZZ_CHECK(valid_user(p->authcid) && !p->password.empty(), in);
    FUZZ_CHECK(p->authzid.empty() || valid_user(p->authzid), in);
    FUZZ_CHECK(p->authcid.size() <= max_user, in);
  }
  if (auto r = decode_request(in)) {
    FUZZ_CHECK(valid_user(r->user), in);
    FUZZ_CHECK(r->password.size() <= max_password && r->timestamp.size() <= max_timestamp, in);
    std::size_t n = encoded_size(*r);
    FUZZ_CHECK(n <= in.size(), in);
    FUZZ_CHECK(encode_request(r->user, r->password, r->timestamp) == in.substr(0, n), in);
  }
  return 0;
}
