// unique: see unique.hpp.
#include "base/unique.hpp"

#include <sodium.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace postern {

std::string random_hex(int n) {
  if (sodium_init() < 0) std::abort();
  std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
  randombytes_buf(bytes.data(), bytes.size());
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace postern
