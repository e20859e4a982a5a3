// imap_id: see imap_id.hpp.
#include "imap/imap_id.hpp"

namespace postern::imap {

std::optional<std::vector<IdField>> parse_id(Parser& p, std::string& why) {
  std::vector<IdField> out;
  if (p.accept('(')) {
    for (bool first = true; !p.accept(')'); first = false) {
      if (!first && !p.sp()) return why = "Malformed ID list", std::nullopt;
      auto key = p.string();
      if (!key || !p.sp()) return why = "Malformed ID list", std::nullopt;
      std::optional<std::string> value;
      std::size_t at = p.pos();
      if (upper(p.word()) != "NIL") {
        p.set_pos(at);
        if (!(value = p.string())) return why = "Malformed ID list", std::nullopt;
      }
      if (out.size() >= max_id_pairs || key->size() > max_id_key || (value && value->size() > max_id_value))
        return why = "ID list past RFC 2971's limits (30 pairs, keys of 30 and values of 1024 bytes)", std::nullopt;
      out.push_back(IdField{std::move(*key), std::move(value)});
    }
  } else {
    auto nil = p.atom();
    if (!nil || upper(*nil) != "NIL") return why = "Usage: ID NIL or ID (key value ...)", std::nullopt;
  }
  if (!p.eol()) return why = "Unexpected arguments", std::nullopt;
  return out;
}

}  // namespace postern::imap
