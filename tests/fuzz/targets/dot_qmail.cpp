// Fuzz target: dot-qmail rules (src/lib/mail/dot_qmail): the file names
// tried for a recipient's extension (from the network) and the lines of a
// user's .qmail file. Input: [dash and extension "\0\0\0"] file text.
// Checks: no candidate file name can leave the home directory (no '/', no
// '.' after ".qmail", so never ".." either) and a DEFAULT part is a suffix
// of the extension; a parsed maildir or mbox line has a path (a maildir's
// ends in '/', an mbox's does not); EXTn and HOSTn are parts of what they cut.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/dot_qmail.hpp"

using namespace postern::dot_qmail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view address, text;
  fuzz::split_settings(data, size, address, text);
  std::string_view dash = !address.empty() && address[0] == '-' ? "-" : "";
  std::string_view ext = address.substr(dash.size());
  if (auto cs = candidates(dash, ext)) {
    FUZZ_CHECK(!cs->empty(), ext);
    for (auto& c : *cs) {
      FUZZ_CHECK(c.name.rfind(".qmail", 0) == 0, c.name);
      FUZZ_CHECK(c.name.find('/') == std::string::npos && c.name.find('\0') == std::string::npos, c.name);
      FUZZ_CHECK(c.name.find('.', 1) == std::string::npos, c.name);
      if (c.default_part) {
        FUZZ_CHECK(c.default_part->size() <= ext.size() &&
                       ext.compare(ext.size() - c.default_part->size(), std::string_view::npos, *c.default_part) == 0,
                   c.name);
      }
    }
  } else {
    FUZZ_CHECK(ext.find('/') != std::string_view::npos || ext.find('\0') != std::string_view::npos, ext);
  }
  for (int n = 0; n < 4; ++n) {
    std::string e = ext_part(ext, n), h = host_part(ext, n);
    FUZZ_CHECK(e.size() <= ext.size() && h.size() <= ext.size(), ext);
  }
  for (auto& l : parse(text)) {
    // An empty forward ("&" alone) or program is local's to refuse.
    if (l.kind == Kind::invalid || l.kind == Kind::forward || l.kind == Kind::program) continue;
    FUZZ_CHECK(!l.value.empty(), text);
    if (l.kind == Kind::maildir) FUZZ_CHECK(l.value.back() == '/', l.value);
    if (l.kind == Kind::mbox) FUZZ_CHECK(l.value.back() != '/', l.value);
  }
  return 0;
}
