// imap_decode: transfer encodings, RFC 2047 words and charsets (see the
// header). Base64 is libsodium's, charsets are glibc's iconv; only the
// quoted-printable and encoded-word syntax is read here, byte by byte,
// with no backtracking, so the time is linear in the input. Trusts nothing
// in its input; returns new strings.
#include "imap/imap_decode.hpp"

#include <iconv.h>
#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "imap/imap_parse.hpp"

namespace postern::imap {

namespace {

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Base64 text with everything outside the alphabet dropped, cut at the
// first '=' (the padding ends the data), decoded by libsodium. A last group
// of 2 or 3 characters still gives its 1 or 2 whole bytes, as Dovecot's and
// most clients' decoders do: the group is completed with 'A's (zero bits)
// and the bytes those made are dropped. A lone last character is no byte.
std::string base64(std::string_view in) {
  std::string clean;
  clean.reserve(in.size());
  for (char c : in) {
    if (c == '=') break;
    if (is_b64(c)) clean += c;
  }
  std::size_t extra = clean.size() % 4;
  std::size_t drop = 0;
  if (extra == 1) clean.pop_back();
  else if (extra != 0) {
    drop = 4 - extra;
    clean.append(drop, 'A');
  }
  std::string out(clean.size() / 4 * 3, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), clean.data(), clean.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
    return {};  // cannot happen: only alphabet characters, whole groups
  out.resize(len >= drop ? len - drop : 0);
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quoted-printable body (RFC 2045 section 6.7).
std::string quoted_printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t eol = in.find('\n', i);
    std::size_t end = eol == std::string_view::npos ? in.size() : eol;
    std::size_t line_end = end;
    if (line_end > i && in[line_end - 1] == '\r') --line_end;
    // Trailing white space was added in transport, the RFC says: it goes.
    while (line_end > i && (in[line_end - 1] == ' ' || in[line_end - 1] == '\t')) --line_end;
    bool soft = false;
    for (std::size_t k = i; k < line_end; ++k) {
      char c = in[k];
      if (c != '=') {
        out += c;
        continue;
      }
      if (k + 1 == line_end) {
        soft = true;
        break;
      }
      int a = k + 2 < line_end ? hex(in[k + 1]) : -1;
      int b = k + 2 < line_end ? hex(in[k + 2]) : -1;
      if (a < 0 || b < 0) {
        out += '=';
        continue;
      }
      out += static_cast<char>(a * 16 + b);
      k += 2;
    }
    if (eol == std::string_view::npos) break;
    if (!soft) out += "\r\n";
    i = eol + 1;
  }
  return out;
}

// RFC 2047's Q encoding: QP's escapes with '_' for a space, no lines.
std::string q_word(std::string_view in) {
  std::string out;
  for (std::size_t k = 0; k < in.size(); ++k) {
    char c = in[k];
    if (c == '_') out += ' ';
    else if (c == '=' && k + 2 < in.size() && hex(in[k + 1]) >= 0 && hex(in[k + 2]) >= 0) {
      out += static_cast<char>(hex(in[k + 1]) * 16 + hex(in[k + 2]));
      k += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

// The charset's name as iconv knows it, its RFC 2231 language dropped.
std::string charset_name(std::string_view cs) {
  std::string n = lower(cs);
  if (auto st = n.find('*'); st != std::string::npos) n.resize(st);
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.pop_back();
  return n;
}

bool is_utf8_name(const std::string& n) { return n == "utf-8" || n == "utf8" || n == "us-ascii" || n == "ascii"; }

// iconv descriptors, opened once per charset for the process (one search
// converts thousands of parts in few charsets). Bounded: past 16 charsets
// the oldest is closed. (iconv_t)-1 stands for "unknown".
struct Converters {
  std::vector<std::pair<std::string, iconv_t>> open;
  ~Converters() {
    for (auto& [n, cd] : open)
      if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
  }
  iconv_t get(const std::string& name) {
    for (auto& [n, cd] : open)
      if (n == name) return cd;
    if (open.size() >= 16) {
      if (open.front().second != reinterpret_cast<iconv_t>(-1)) iconv_close(open.front().second);
      open.erase(open.begin());
    }
    // A name with characters no charset has is refused before iconv sees it.
    bool plausible = !name.empty() && name.size() < 64;
    for (char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'))
        plausible = false;
    iconv_t cd = plausible ? iconv_open("UTF-8", name.c_str()) : reinterpret_cast<iconv_t>(-1);
    open.emplace_back(name, cd);
    return cd;
  }
};

Converters& converters() {
  static Converters c;
  return c;
}

}  // namespace

std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding) {
  std::string e = lower(encoding);
  while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.pop_back();
  while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.erase(0, 1);
  if (e.empty() || e == "7bit" || e == "8bit" || e == "binary") return std::string(body);
  if (e == "base64") return base64(body);
  if (e == "quoted-printable") return quoted_printable(body);
  return std::nullopt;
}

bool charset_known(std::string_view charset) {
  std::string n = charset_name(charset);
  return is_utf8_name(n) || converters().get(n) != reinterpret_cast<iconv_t>(-1);
}

std::string to_utf8(std::string_view text, std::string_view charset) {
  std::string n = charset_name(charset);
  if (n.empty() || is_utf8_name(n)) return std::string(text);
  iconv_t cd = converters().get(n);
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(text);
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // a fresh shift state for each text
  std::string out;
  out.reserve(text.size() + 16);
  char buf[4096];
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  while (in_left > 0) {
    char* o = buf;
    std::size_t o_left = sizeof buf;
    std::size_t r = iconv(cd, &in, &in_left, &o, &o_left);
    out.append(buf, static_cast<std::size_t>(o - buf));
    if (r != static_cast<std::size_t>(-1)) continue;
    if (errno == E2BIG) continue;
    // EILSEQ or EINVAL (cut at the end): one byte is replaced and skipped.
    out += "\xEF\xBF\xBD";
    ++in;
    --in_left;
  }
  char* o = buf;
  std::size_t o_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &o, &o_left);  // a stateful charset's closing bytes
  out.append(buf, static_cast<std::size_t>(o - buf));
  return out;
}

std::string decode_header_words(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  std::size_t i = 0;
  bool last_word = false;                    // the last thing output was an encoded word
  std::size_t ws_start = std::string::npos;  // where white space after it began in out
  while (i < v.size()) {
    if (v[i] == '=' && i + 1 < v.size() && v[i + 1] == '?') {
      // "=?" charset "?" B|Q "?" text "?=", none of them holding '?' or
      // white space; the end is searched within this token only, so the
      // whole scan stays linear.
      std::size_t q1 = v.find_first_of("? \t\r\n", i + 2);
      bool ok = q1 != std::string_view::npos && v[q1] == '?' && q1 + 2 < v.size() && v[q1 + 2] == '?';
      std::size_t e = std::string_view::npos;
      if (ok) {
        e = v.find_first_of("? \t\r\n", q1 + 3);
        ok = e != std::string_view::npos && v[e] == '?' && e + 1 < v.size() && v[e + 1] == '=';
      }
      if (ok) {
        char enc = static_cast<char>(v[q1 + 1] | 0x20);
        std::string_view data = v.substr(q1 + 3, e - q1 - 3);
        std::string cs = charset_name(v.substr(i + 2, q1 - i - 2));
        if ((enc == 'b' || enc == 'q') && (is_utf8_name(cs) || converters().get(cs) != reinterpret_cast<iconv_t>(-1))) {
          std::string bytes = enc == 'b' ? base64(data) : q_word(data);
          if (last_word && ws_start != std::string::npos) out.resize(ws_start);
          out += to_utf8(bytes, cs);
          i = e + 2;
          last_word = true;
          ws_start = std::string::npos;
          continue;
        }
      }
    }
    char c = v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (ws_start == std::string::npos) ws_start = out.size();
    } else {
      last_word = false;
      ws_start = std::string::npos;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace postern::imap
