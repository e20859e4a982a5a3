// imap_fetch_data: see imap_fetch_data.hpp. Decoding is imap_decode's
// (shared with SEARCH); the ids are BLAKE2b (libsodium) digests written in
// base64url, so they are stable, need no state on disk, and are made of
// the characters RFC 8474 allows.
#include "imap/imap_fetch_data.hpp"

#include <sodium.h>

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

}  // namespace

std::optional<std::string> binary_section(const Message& m, const Section& s, bool& decoded) {
  decoded = false;
  if (s.path.empty() || !s.spec.empty()) return m.section(s);
  const Part* node = m.find(s.path);
  if (!node) return std::string();
  if (node->multipart() || node->rfc822()) return m.section(s);
  std::string_view body = std::string_view(m.text()).substr(node->body_begin, node->end - node->body_begin);
  auto out = decode_transfer(body, node->encoding);
  decoded = out && (iequal(node->encoding, "base64") || iequal(node->encoding, "quoted-printable"));
  return out;
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
