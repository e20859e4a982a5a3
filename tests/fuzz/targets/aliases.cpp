// Fuzz target: the aliases file (src/lib/mail/aliases) that newaliases
// compiles, and :include: files, whose lines any listed user may write.
// Input: a whole file. Checks: entries have a lower-case name and
// non-empty targets without control bytes, every address target is valid,
// errors name a line of the file, and the cdb encoding of the targets
// decodes to the same targets.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.hpp"
#include "common.hpp"
#include "mail/address.hpp"
#include "mail/aliases.hpp"

using namespace postern;
using namespace postern::aliases;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<Error> errors;
  auto entries = parse(in, errors);
  int lines = static_cast<int>(split(in, '\n').size());
  for (auto& e : errors) FUZZ_CHECK(e.line >= 1 && e.line <= lines && !e.why.empty(), in);
  for (auto& e : entries) {
    FUZZ_CHECK(!e.name.empty() && e.name == lower(e.name), e.name);
    FUZZ_CHECK(e.line >= 1 && e.line <= lines, in);
    for (auto& t : e.targets) {
      FUZZ_CHECK(!t.empty() && !has_control(t), t);
      if (kind_of(t) == Kind::address) FUZZ_CHECK(valid_envelope_address(t), t);
    }
    FUZZ_CHECK(decode_targets(encode_targets(e.targets)) == e.targets, in);
  }
  std::string why;
  auto targets = split_targets(in, why);
  for (auto& t : targets) FUZZ_CHECK(!t.empty() && !has_control(t), t);
  (void)decode_targets(in);
  return 0;
}
