// Fuzz target: the subscriptions file (parse_subscriptions and
// format_subscriptions in src/lib/imap/imap_files), Dovecot's version 2
// or the one-name-a-line version 1, which the user or Dovecot may write.
// Input: a whole file. Checks: names are non-empty, without NUL and
// unique; writing the names back in the version read and reading again
// gives the same names (for version 1, names without a line break).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_files.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = parse_subscriptions(in);
  for (std::size_t i = 0; i < s.names.size(); ++i) {
    FUZZ_CHECK(!s.names[i].empty() && s.names[i].find('\0') == std::string::npos, s.names[i]);
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(s.names[i] != s.names[j], s.names[i]);
  }
  // Only names postern itself would subscribe (no line breaks, no empty
  // level) must survive a rewrite unchanged.
  Subscriptions clean{s.version, {}};
  for (auto& n : s.names)
    if (n.find_first_of("\r\n\t\001") == std::string::npos && n.front() != '.' && n.back() != '.' &&
        n.find("..") == std::string::npos && !(s.version == 1 && n == "V\t2"))
      clean.names.push_back(n);
  auto again = parse_subscriptions(format_subscriptions(clean));
  FUZZ_CHECK(again.version == clean.version && again.names == clean.names, format_subscriptions(clean));
  return 0;
}
