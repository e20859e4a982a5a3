// imap_pattern: see imap_pattern.hpp. Bit j of the state says "the pattern
// so far matches the first j bytes of the name".
#include "imap/imap_pattern.hpp"

#include "imap/imap_parse.hpp"

namespace postern::imap {

namespace {

using Bits = std::array<std::uint64_t, 4>;

Bits shl(const Bits& b, unsigned s, unsigned words) {
  Bits out{};
  unsigned w = s / 64, r = s % 64;
  for (unsigned i = words; i-- > w;) {
    out[i] = b[i - w] << r;
    if (r && i - w > 0) out[i] |= b[i - w - 1] >> (64 - r);
  }
  return out;
}

void set(Bits& b, std::size_t j) { b[j / 64] |= std::uint64_t{1} << (j % 64); }

}  // namespace

void ListMatcher::add(std::string_view pattern) {
  Pattern p;
  for (char c : pattern) {
    bool wild = c == '*' || c == '%';
    if (wild && !p.tokens.empty() && (p.tokens.back() == '*' || p.tokens.back() == '%')) {
      if (c == '*') p.tokens.back() = '*';
      continue;
    }
    p.tokens += c;
    if (!wild) ++p.literals;
  }
  Pattern u = p;
  u.tokens = upper(u.tokens);
  patterns_.push_back(std::move(p));
  upper_.push_back(std::move(u));
}

bool ListMatcher::matches(std::string_view name) {
  if (name.size() > 255) return false;
  unsigned words = static_cast<unsigned>(name.size() / 64 + 1);
  for (std::size_t j = 1; j <= name.size(); ++j) set(masks_[static_cast<unsigned char>(name[j - 1])], j);
  bool hit = false;
  const auto& list = name == "INBOX" ? upper_ : patterns_;
  for (auto& p : list)
    if ((hit = run(p, name, words))) break;
  for (char c : name) masks_[static_cast<unsigned char>(c)] = Bits{};
  return hit;
}

bool ListMatcher::run(const Pattern& p, std::string_view name, unsigned words) const {
  std::size_t n = name.size();
  if (p.literals > n) return false;
  Bits valid{};  // positions 0..n
  for (unsigned i = 0; i < words; ++i) {
    std::size_t lo = i * 64;
    std::size_t count = n + 1 > lo ? std::min<std::size_t>(64, n + 1 - lo) : 0;
    valid[i] = count == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
  }
  Bits can{};
  can[0] = 1;
  for (char c : p.tokens) {
    Bits next{};
    if (c == '*') {  // every position from the first reachable one on
      unsigned i = 0;
      while (i < words && !can[i]) ++i;
      if (i == words) return false;
      next[i] = ~((can[i] & -can[i]) - 1);
      for (unsigned k = i + 1; k < words; ++k) next[k] = ~std::uint64_t{0};
    } else if (c == '%') {  // onwards, but never past a '.'
      Bits go{};            // position j may be reached from j - 1
      const Bits& dots = masks_[static_cast<unsigned char>('.')];
      for (unsigned i = 0; i < words; ++i) go[i] = valid[i] & ~dots[i];
      go[0] &= ~std::uint64_t{1};
      next = can;
      for (unsigned s = 1; s <= n; s *= 2) {
        Bits g = shl(next, s, words), q = shl(go, s, words);
        for (unsigned i = 0; i < words; ++i) {
          next[i] |= go[i] & g[i];
          go[i] &= q[i];
        }
      }
    } else {
      Bits sh = shl(can, 1, words);
      const Bits& m = masks_[static_cast<unsigned char>(c)];
      for (unsigned i = 0; i < words; ++i) next[i] = sh[i] & m[i];
    }
    bool any = false;
    for (unsigned i = 0; i < words; ++i) {
      next[i] &= valid[i];
      any = any || next[i];
    }
    if (!any) return false;
    can = next;
  }
  return (can[n / 64] >> (n % 64)) & 1;
}

}  // namespace postern::imap
