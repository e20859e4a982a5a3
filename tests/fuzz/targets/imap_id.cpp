// Fuzz target: the argument of the ID command (src/lib/imap/imap_id), as
// imapd's pre-auth stage takes it from anyone who connects. Input: what
// follows "ID ". Checks: a parsed list is within RFC 2971's bounds and,
// written out again with quote(), parses to the same pairs.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_id.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Parser p(in);
  std::string why;
  auto fields = parse_id(p, why);
  if (!fields) {
    FUZZ_CHECK(!why.empty(), in);
    return 0;
  }
  FUZZ_CHECK(fields->size() <= max_id_pairs, in);
  std::string again = fields->empty() ? "NIL" : "(";
  for (auto& f : *fields) {
    FUZZ_CHECK(f.key.size() <= max_id_key && (!f.value || f.value->size() <= max_id_value), in);
    if (again.size() > 1) again += ' ';
    again += quote(f.key) + " " + (f.value ? quote(*f.value) : std::string("NIL"));
  }
  if (!fields->empty()) again += ')';
  Parser q(again);
  auto back = parse_id(q, why);
  FUZZ_CHECK(back && back->size() == fields->size(), again);
  for (std::size_t i = 0; i < back->size(); ++i)
    FUZZ_CHECK((*back)[i].key == (*fields)[i].key && (*back)[i].value == (*fields)[i].value, again);
  return 0;
}
