// secret_md5: secret::md5_hex (secret.hpp), APOP's digest, in a file of
// its own so that only the programs that call it (checkpassword) link
// OpenSSL's libcrypto: loading it costs every other program's start (the
// login servers start several processes for each connection) a few
// milliseconds of CPU for nothing. Trusts nothing; returns "" on failure.
#include <openssl/evp.h>
#include <sodium.h>

#include "base/secret.hpp"

namespace postern::secret {

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
