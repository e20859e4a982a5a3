// Fuzz target: IMAP URLs (src/lib/imap/imap_url), as CATENATE's URL parts
// and URLAUTH's commands take them from the network. Input: one URL.
// Checks: a parsed URL has a UID and a mailbox, no control bytes in them,
// a rump that is a prefix of the input and parses again to the same
// mailbox, UID and section (what URLAUTH signs names what was fetched).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_url.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto u = parse_imap_url(in);
  if (!u) return 0;
  FUZZ_CHECK(u->uid != 0 && !u->mailbox.empty(), in);
  for (char c : u->mailbox + u->section) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, in);
  FUZZ_CHECK(in.starts_with(u->rump), in);
  auto again = parse_imap_url(u->rump);
  FUZZ_CHECK(again && again->mailbox == u->mailbox && again->uid == u->uid && again->section == u->section &&
                 again->uidvalidity == u->uidvalidity && again->access.empty(),
             in);
  return 0;
}
