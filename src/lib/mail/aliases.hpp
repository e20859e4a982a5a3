// aliases: the aliases(5) file as sendmail and Postfix read it, and its
// compiled form, the cdb that newaliases writes and aliasforward reads.
//
//   # comment
//   name: target, target, ...
//       continued target, ...          (a line starting with white space)
//   "quoted name": ...
//
// A target is an address or local name, "|command", /file, :include:/path
// or \name (a local name not expanded again). Names are case-insensitive.
// In the cdb the key is the lowercased name and the value the targets, each
// followed by NUL.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace postern::aliases {

struct Entry {
  std::string name;  // lowercased, unquoted
  std::vector<std::string> targets;
  int line = 0;
};

struct Error {
  int line = 0;
  std::string why;
};

// Parses a whole aliases file; every bad line is reported in errors.
std::vector<Entry> parse(std::string_view text, std::vector<Error>& errors);

// Splits a comma-separated list of targets (quotes respected, quotes around
// a whole target removed, white space trimmed). Used for entries and for the
// lines of :include: files.
std::vector<std::string> split_targets(std::string_view list, std::string& why);

std::string encode_targets(const std::vector<std::string>& targets);
std::vector<std::string> decode_targets(std::string_view value);

enum class Kind { address, program, file, include, local_only };
Kind kind_of(std::string_view target);

}  // namespace postern::aliases
