// imap_utf7: see imap_utf7.hpp.
#include "imap/imap_utf7.hpp"

#include <cstdint>
#include <vector>

namespace postern::imap {

namespace {

const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool decode_utf8(std::string_view s, std::vector<std::uint32_t>& out) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int n;
    if (c < 0x80) {
      cp = c, n = 0;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f, n = 1;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f, n = 2;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07, n = 3;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    out.push_back(cp);
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

void put_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

std::optional<std::string> utf7_encode(std::string_view utf8) {
  std::vector<std::uint32_t> cps;
  if (!decode_utf8(utf8, cps)) return std::nullopt;
  std::string out;
  std::size_t i = 0;
  while (i < cps.size()) {
    std::uint32_t c = cps[i];
    if (c >= 0x20 && c <= 0x7e) {
      out += c == '&' ? std::string("&-") : std::string(1, static_cast<char>(c));
      ++i;
      continue;
    }
    std::vector<std::uint16_t> units;
    while (i < cps.size() && !(cps[i] >= 0x20 && cps[i] <= 0x7e)) {
      std::uint32_t cp = cps[i++];
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push_back(static_cast<std::uint16_t>(0xd800 | (cp >> 10)));
        units.push_back(static_cast<std::uint16_t>(0xdc00 | (cp & 0x3ff)));
      } else {
        units.push_back(static_cast<std::uint16_t>(cp));
      }
    }
    out += '&';
    std::uint32_t bits = 0;
    int nbits = 0;
    for (auto u : units) {
      for (int shift : {8, 0}) {
        bits = (bits << 8) | ((u >> shift) & 0xff);
        nbits += 8;
        while (nbits >= 6) {
          nbits -= 6;
          out += b64[(bits >> nbits) & 0x3f];
        }
      }
    }
    if (nbits > 0) out += b64[(bits << (6 - nbits)) & 0x3f];
    out += '-';
  }
  return out;
}

std::optional<std::string> utf7_decode(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return std::nullopt;
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    ++i;
    if (i < s.size() && s[i] == '-') {
      out += '&';
      ++i;
      continue;
    }
    std::uint32_t bits = 0;
    int nbits = 0;
    std::vector<std::uint16_t> units;
    std::size_t start = i;
    while (i < s.size() && s[i] != '-') {
      int v = b64_value(s[i]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<std::uint16_t>((bits >> nbits) & 0xffff));
      }
      ++i;
    }
    if (i >= s.size() || i == start) return std::nullopt;  // unterminated or empty
    ++i;                                                   // the '-'
    if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      std::uint32_t u = units[k];
      if (u >= 0xd800 && u <= 0xdbff) {
        if (k + 1 >= units.size() || units[k + 1] < 0xdc00 || units[k + 1] > 0xdfff) return std::nullopt;
        u = 0x10000 + ((u - 0xd800) << 10) + (units[k + 1] - 0xdc00);
        ++k;
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        return std::nullopt;
      } else if (u >= 0x20 && u <= 0x7e) {
        return std::nullopt;  // printable ASCII must not be encoded
      }
      put_utf8(u, out);
    }
  }
  return out;
}

}  // namespace postern::imap
