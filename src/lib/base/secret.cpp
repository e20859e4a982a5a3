// secret: see secret.hpp.
#include "base/secret.hpp"

#include <openssl/evp.h>
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

std::string md5_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1) return "";
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  sodium_memzero(md, sizeof md);
  return out;
}

}  // namespace postern::secret
