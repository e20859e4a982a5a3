// Fuzz target: dovecot-uidlist and Courier's courierimapuiddb
// (parse_uidlist in src/lib/imap/imap_files), which Dovecot, Courier, a
// crash or the user may have written. Input: a whole file. Checks: UIDs
// strictly ascending, non-zero, below 2^32-1 and below next; names hold no
// '/', ':', CR or LF; the file written back from what was read reads back
// to the same records and header.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_files.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto u = parse_uidlist(in);
  if (!u) return 0;
  FUZZ_CHECK(u->validity != 0 && u->next != 0, in);
  std::uint32_t prev = 0;
  for (auto& r : u->recs) {
    FUZZ_CHECK(r.uid > prev && r.uid < 0xffffffffu && r.uid < u->next, in);
    FUZZ_CHECK(!r.base.empty() && r.base.find_first_of("/:\r\n") == std::string::npos, r.base);
    for (auto& e : r.ext) FUZZ_CHECK(!e.empty() && e[0] >= 'A' && e[0] <= 'Z' && e.find_first_of(" \n") == std::string::npos, e);
    prev = r.uid;
  }
  if (u->guid.empty()) u->guid = "0123456789abcdef0123456789abcdef";
  std::string text = uidlist_header(*u);
  for (auto& r : u->recs) text += uidlist_record(r);
  auto again = parse_uidlist(text);
  FUZZ_CHECK(again && again->validity == u->validity && again->next == u->next && again->guid == u->guid, text);
  FUZZ_CHECK(again->recs.size() == u->recs.size(), text);
  for (std::size_t i = 0; i < u->recs.size(); ++i)
    FUZZ_CHECK(again->recs[i].uid == u->recs[i].uid && again->recs[i].base == u->recs[i].base &&
                   again->recs[i].ext == u->recs[i].ext,
               text);
  return 0;
}
