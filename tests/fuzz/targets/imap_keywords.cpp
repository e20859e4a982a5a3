// Fuzz target: dovecot-keywords and Courier's courierimapkeywords/:list
// (parse_keywords, parse_courier_keywords in src/lib/imap/imap_files),
// which any program of the user may write. Input: a whole file, read as
// both. Checks: at most 26 keywords, each a valid IMAP atom once; the file
// written back reads back the same; Courier's message lines name only
// keywords the file lists and clean base names.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_files.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto kws = parse_keywords(in);
  FUZZ_CHECK(kws.size() <= 26, in);
  for (std::size_t i = 0; i < kws.size(); ++i) {
    FUZZ_CHECK(kws[i].empty() || valid_keyword(kws[i]), kws[i]);
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(kws[i].empty() || kws[i] != kws[j], kws[i]);
  }
  std::string text = format_keywords(kws);
  auto again = parse_keywords(text);
  while (!kws.empty() && kws.back().empty()) kws.pop_back();
  FUZZ_CHECK(again == kws, text);
  auto c = parse_courier_keywords(in);
  for (auto& [base, idx] : c.msgs) {
    FUZZ_CHECK(!base.empty() && base.find_first_of("/\r\n") == std::string::npos, base);
    for (auto k : idx) FUZZ_CHECK(k < c.names.size(), in);
  }
  for (auto& n : c.names) FUZZ_CHECK(n.empty() || valid_keyword(n), n);
  return 0;
}
