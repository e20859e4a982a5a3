// imap_id: the argument of RFC 2971's ID command, "NIL" or a parenthesised
// list of field-value pairs, as a client sends it before or after login.
// Trusts nothing: the parser checks the syntax and RFC 2971 3.3's bounds
// (30 pairs, keys of 30 bytes, values of 1024) and returns the pairs, or
// nullopt with a reason the caller sends back in its BAD.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "imap/imap_parse.hpp"

namespace postern::imap {

constexpr std::size_t max_id_pairs = 30;
constexpr std::size_t max_id_key = 30;
constexpr std::size_t max_id_value = 1024;

struct IdField {
  std::string key;
  std::optional<std::string> value;  // nullopt for NIL
};

// Reads from p, placed after "ID ", to the end of the command.
std::optional<std::vector<IdField>> parse_id(Parser& p, std::string& why);

}  // namespace postern::imap
