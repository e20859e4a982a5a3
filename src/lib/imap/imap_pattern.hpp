// imap_pattern: LIST and LSUB patterns (RFC 3501 section 6.3.8): '*'
// matches any bytes, '%' any bytes but the hierarchy separator '.'.
// Patterns come from the network: each is matched as a bit-parallel
// automaton over the name (one step a pattern byte, a few word operations
// a step, runs of wildcards collapsed first), so a pattern of wildcards
// costs no more than a plain one and never an exponential search. Returns
// only true or false; names longer than 255 bytes never match.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

class ListMatcher {
 public:
  // Adds a pattern (the reference already joined to it). Against the
  // name INBOX it is tried upper-cased: INBOX is case-insensitive.
  void add(std::string_view pattern);
  std::size_t size() const { return patterns_.size(); }
  // True when any pattern matches name.
  bool matches(std::string_view name);

 private:
  struct Pattern {
    std::string tokens;  // literal bytes, '*' and '%' (each run of wildcards as one)
    std::size_t literals = 0;
  };
  bool run(const Pattern& p, std::string_view name, unsigned words) const;
  std::vector<Pattern> patterns_, upper_;
  using Bits = std::array<std::uint64_t, 4>;
  std::array<Bits, 256> masks_{};  // positions j where name[j-1] is the byte
};

}  // namespace postern::imap
