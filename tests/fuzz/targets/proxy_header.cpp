// Fuzz target: the PROXY protocol header (src/lib/base/proxy_header), as
// proxy-env reads it from a proxy. Input: any bytes, fed as proxy-env
// feeds them (exactly what parse() asks for). Checks that parse never
// asks for a byte past the header, never for more than a header can
// hold, and that a proxied result names addresses and ports that are ones.
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/proxy_header.hpp"
#include "common.hpp"

using namespace postern::proxy_header;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string got;
  for (;;) {
    Result r = parse(got);
    if (r.status == Result::Status::bad) break;
    if (r.status == Result::Status::done) {
      if (r.proxied) {
        unsigned char a[16];
        FUZZ_CHECK(::inet_pton(AF_INET, r.remote_ip.c_str(), a) == 1 || ::inet_pton(AF_INET6, r.remote_ip.c_str(), a) == 1, in);
        FUZZ_CHECK(r.remote_port <= 65535 && r.local_port <= 65535, in);
      }
      break;
    }
    FUZZ_CHECK(r.more > 0 && got.size() + r.more <= 16 + max_v2_block, in);
    if (got.size() + r.more > in.size()) break;
    got += in.substr(got.size(), r.more);
  }
  return 0;
}
