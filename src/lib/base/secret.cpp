// secret: see secret.hpp.
#include "base/secret.hpp"

#include <sodium.h>

#include <cstdlib>

namespace postern::secret {

bool equal(std::string_view a, std::string_view b) {
  if (sodium_init() < 0) std::abort();
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

}  // namespace postern::secret
