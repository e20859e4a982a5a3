// Fuzz target: remote's reading of MX answers (parse_mx_answer in
// src/remote/route.cpp): the DNS message res_query hands back, which
// whoever answers for a domain wrote. Input: the answer's wire bytes.
// Checks: every host is a lower-case name within NS_MAXDNAME and every
// preference fits 16 bits; parsing never reads outside the answer (ASan).
#include <arpa/nameser.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common.hpp"
#include "remote/route.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly the input's size, so any read past the answer is seen.
  std::unique_ptr<unsigned char[]> buf(new unsigned char[size ? size : 1]);
  if (size) std::memcpy(buf.get(), data, size);
  auto mx = postern::remote::parse_mx_answer(buf.get(), static_cast<int>(size));
  if (!mx) return 0;
  for (auto& r : *mx) {
    FUZZ_CHECK(r.pref >= 0 && r.pref <= 65535, r.host);
    FUZZ_CHECK(r.host.size() < NS_MAXDNAME, r.host);
    for (char c : r.host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), r.host);
  }
  return 0;
}
