// imap_fetch_data: see imap_fetch_data.hpp. Decoding is imap_decode's
// (shared with SEARCH); the ids are BLAKE2b (libsodium) digests written in
// base64url, so they are stable, need no state on disk, and are made of
// the characters RFC 8474 allows.
#include "imap/imap_fetch_data.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "imap/imap_decode.hpp"

namespace postern::imap {

namespace {

constexpr std::size_t preview_bytes = 200;  // Dovecot's bound: bytes, never half a character
constexpr std::size_t preview_input = 64 << 10;  // of a part's body, enough for 200 characters

std::string digest_id(char prefix, std::string_view a, std::string_view b) {
  unsigned char h[18];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  crypto_generichash_final(&st, h, sizeof h);
  char out[sodium_base64_ENCODED_LEN(sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return std::string(1, prefix) + out;
}

const Part* first_text(const Part& p, int depth) {
  if (depth > 40) return nullptr;
  if (p.multipart()) {  // not into attached messages: they are not this one's text
    for (auto& c : p.parts)
      if (auto t = first_text(c, depth + 1)) return t;
    return nullptr;
  }
  if (iequal(p.type, "text")) return &p;  // any text/*, as Dovecot takes
  return nullptr;
}

// Text of an HTML body: tags left out (and what <head>, <style> and
// <script> hold), the common entities decoded, block ends as spaces.
std::string html_text(std::string_view h) {
  std::string out;
  std::size_t i = 0;
  while (i < h.size()) {
    if (h[i] == '<') {
      std::size_t e = h.find('>', i);
      if (e == std::string_view::npos) break;
      std::string tag;
      for (std::size_t k = i + 1; k < e && tag.size() < 8 && h[k] != ' ' && h[k] != '\t' && h[k] != '\n'; ++k)
        tag += static_cast<char>(h[k] >= 'A' && h[k] <= 'Z' ? h[k] + 32 : h[k]);
      i = e + 1;
      if (tag == "head" || tag == "style" || tag == "script") {
        std::string close = "</" + tag;
        std::size_t k = i;
        for (; k + close.size() <= h.size(); ++k)
          if (iequal(h.substr(k, close.size()), close)) break;
        std::size_t ce = h.find('>', k);
        i = ce == std::string_view::npos ? h.size() : ce + 1;
      }
      out += ' ';
      continue;
    }
    if (h[i] == '&') {
      std::size_t e = h.find(';', i);
      if (e != std::string_view::npos && e - i <= 8) {
        std::string_view ent = h.substr(i + 1, e - i - 1);
        const char* rep = ent == "amp" ? "&" : ent == "lt" ? "<" : ent == "gt" ? ">" : ent == "quot" ? "\"" :
                          ent == "apos" ? "'" : ent == "nbsp" ? " " : nullptr;
        if (rep) {
          out += rep;
          i = e + 1;
          continue;
        }
      }
    }
    out += h[i++];
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Whether a base64 body is one Dovecot decodes (it answers NO [PARSE] for
// any other): alphabet characters and white space, a group left over at
// the end only when padded with "=" to four, and nothing but white space
// after the padding.
bool base64_valid(std::string_view b) {
  std::size_t n = 0, i = 0;
  for (; i < b.size() && b[i] != '='; ++i) {
    char c = b[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/') ++n;
    else if (!is_space(c)) return false;
  }
  std::size_t pad = 0;
  for (; i < b.size(); ++i) {
    if (b[i] == '=') ++pad;
    else if (!is_space(b[i])) return false;
  }
  std::size_t left = n % 4;
  return (left == 0 && pad == 0) || (left == 2 && pad == 2) || (left == 3 && pad == 1);
}

// The encoding a part's header names (its last Content-Transfer-Encoding
// field), read from the header itself as Dovecot's BINARY reads it: an
// attached message without MIME-Version still has its body decoded,
// though its structure says 7bit. "" when there is none.
std::string header_cte(std::string_view header) {
  std::string fields = header_fields(header, {"Content-Transfer-Encoding"}, false);
  std::string last;  // the last field, its continuation lines joined
  std::size_t at = 0;
  while (at < fields.size()) {
    auto nl = fields.find('\n', at);
    std::string_view line = std::string_view(fields).substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? fields.size() : nl + 1;
    if (line.empty() || line == "\r") continue;
    if (is_space(line[0])) last += line;
    else last = line;
  }
  auto colon = last.find(':');
  if (colon == std::string::npos) return "";
  std::string out;
  for (char c : std::string_view(last).substr(colon + 1)) {
    if (c == ';' || c == '(' || (is_space(c) && !out.empty())) break;
    if (!is_space(c)) out += c;
  }
  return out;
}

// Appends part p (its header too when with_header) with every leaf's
// encoding undone, recursing through multiparts and attached messages;
// what lies between parts (preamble, boundaries) is copied as it is. A
// decoded leaf's header says "Content-Transfer-Encoding: binary" in place
// of the encoding it had. False, with out.error, when a part cannot be
// decoded.
bool add_binary(const Message& m, const Part& p, bool with_header, Binary& out, int depth) {
  std::string_view text = m.text();
  auto range = [&](std::size_t a, std::size_t b) { return text.substr(a, b > a ? b - a : 0); };
  if (depth > 100) return true;  // the parser bounds nesting already
  std::string_view h = range(p.header_begin, p.body_begin);
  std::string cte = header_cte(h);
  if (!decode_transfer("", cte)) {
    out.error = BinaryError::unknown_cte;
    return false;
  }
  bool convert = iequal(cte, "base64") || iequal(cte, "quoted-printable");
  if (with_header) {
    if (convert) {
      std::string kept = header_fields(h, {"Content-Transfer-Encoding"}, true);
      kept.resize(kept.size() - 2);  // its blank line, after the field that takes the old one's place
      out.data += kept + "Content-Transfer-Encoding: binary\r\n\r\n";
      out.decoded = true;  // not the stored bytes any more, even for an empty body
    } else {
      out.data += h;
    }
  }
  if (!p.parts.empty()) {
    std::size_t at = p.body_begin;
    for (auto& c : p.parts) {
      out.data += range(at, c.header_begin);
      if (!add_binary(m, c, true, out, depth + 1)) return false;
      at = c.end;
    }
    out.data += range(at, p.end);
    return true;
  }
  std::string_view body = range(p.body_begin, p.end);
  if (!convert || body.empty()) {
    out.data += body;
    return true;
  }
  if (iequal(cte, "base64") && !base64_valid(body)) {
    out.error = BinaryError::invalid;
    return false;
  }
  out.data += *decode_transfer(body, cte);
  out.decoded = true;
  return true;
}

}  // namespace

std::optional<std::string> binary_section(const Message& m, const Section& s, bool& decoded) {
  Binary b = binary_of(m, s);
  decoded = b.decoded;
  if (b.error != BinaryError::none) return std::nullopt;
  return std::move(b.data);
}

Binary binary_of(const Message& m, const Section& s) {
  Binary out;
  if (!s.spec.empty() && s.spec != "TEXT") {  // HEADER, MIME, HEADER.FIELDS: no body to decode
    out.data = m.section(s);
    return out;
  }
  const Part* node = m.find(s.path);
  if (!node) return out;
  bool whole = s.spec.empty() && s.path.empty();
  if (s.spec == "TEXT") {  // the body of the message, or of the one a message/rfc822 part holds
    if (!s.path.empty()) {
      if (!node->rfc822() || node->parts.empty()) return out;
      node = &node->parts[0];
    }
  }
  if (!add_binary(m, *node, whole, out, 0)) out.data.clear();
  return out;
}

std::string binary_structure(const Message& m, const Part& p) {
  return m.part_structure(p, [&m](const Part& q) {
    Binary b;
    std::string_view body = std::string_view(m.text()).substr(q.body_begin, q.end - q.body_begin);
    if (!add_binary(m, q, false, b, 0)) return std::pair(body.size(), static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')));
    return std::pair(b.data.size(), static_cast<std::size_t>(std::count(b.data.begin(), b.data.end(), '\n')));
  });
}

std::string preview(const Message& m) {
  const Part* p = first_text(m.root(), 0);
  if (!p) return "";
  std::string_view body = std::string_view(m.text()).substr(p->body_begin, p->end - p->body_begin);
  if (body.size() > preview_input) {  // cut at a line end, so base64 and QP stay whole
    auto nl = body.rfind('\n', preview_input);
    body = body.substr(0, nl == std::string_view::npos ? preview_input : nl + 1);
  }
  std::string text = decode_transfer(body, p->encoding).value_or(std::string(body));
  for (auto& [k, v] : p->params)
    if (iequal(k, "charset")) text = to_utf8(text, v);
  if (iequal(p->subtype, "html")) text = html_text(text);
  std::string out;
  bool line_start = true, space = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (line_start && c == '>' && !iequal(p->subtype, "html")) {  // a quoted line
      std::size_t nl = text.find('\n', i);
      if (nl == std::string::npos) break;
      i = nl;
      continue;
    }
    line_start = c == '\n';
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;
    std::size_t len = 1;  // the whole UTF-8 sequence goes in, or none of it
    while (i + len < text.size() && (static_cast<unsigned char>(text[i + len]) & 0xc0) == 0x80) ++len;
    if (out.size() + space + len > preview_bytes) break;
    if (space) out += ' ';
    space = false;
    out.append(text, i, len);
    i += len - 1;
  }
  return out;
}

std::string email_id(std::string_view header, std::uint64_t size) {
  return digest_id('M', header, std::to_string(size));
}

std::optional<std::string> thread_id(const Message& m) {
  auto first_id = [](const std::string& v) -> std::optional<std::string> {
    auto a = v.find('<');
    auto b = a == std::string::npos ? a : v.find('>', a);
    if (b == std::string::npos) return std::nullopt;
    return v.substr(a, b - a + 1);
  };
  std::optional<std::string> root;
  for (const char* name : {"References", "In-Reply-To", "Message-ID"}) {
    if (auto v = m.field(name)) root = first_id(*v);
    if (root) break;
  }
  if (!root) return std::nullopt;
  return digest_id('T', *root, "");
}

}  // namespace postern::imap
