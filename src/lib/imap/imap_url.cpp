// imap_url: the IMAP URL parser (see imap_url.hpp). Walks the text once,
// left to right; each piece is checked for its characters and length.
#include "imap/imap_url.hpp"

#include <cctype>

#include "base/strings.hpp"
#include "imap/imap_parse.hpp"

namespace postern::imap {

namespace {

constexpr std::size_t max_url = 4096;

std::optional<std::uint64_t> number(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (n > (max - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Splits "KEY=value" (KEY case-insensitive); false when it is not key.
bool param(std::string_view piece, std::string_view key, std::string_view& value) {
  if (piece.size() <= key.size() || piece[key.size()] != '=' || !iequal(piece.substr(0, key.size()), key)) return false;
  value = piece.substr(key.size() + 1);
  return true;
}

}  // namespace

std::optional<ImapUrl> parse_imap_url(std::string_view url) {
  if (url.empty() || url.size() > max_url) return std::nullopt;
  ImapUrl u;
  std::string_view rest = url;
  if (rest.size() >= 7 && iequal(rest.substr(0, 7), "imap://")) {
    rest.remove_prefix(7);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view server = rest.substr(0, slash);
    if (auto at = server.rfind('@'); at != std::string_view::npos) {
      std::string_view user = server.substr(0, at);
      if (auto semi = user.find(';'); semi != std::string_view::npos) user = user.substr(0, semi);  // ;AUTH=
      auto d = percent_decode(user);
      if (!d || d->empty()) return std::nullopt;
      u.user = *d;
      server = server.substr(at + 1);
    }
    if (server.empty()) return std::nullopt;
    for (char c : server)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']')
        return std::nullopt;
    u.host = std::string(server);
    rest.remove_prefix(slash);
  }
  if (rest.empty() || rest[0] != '/') return std::nullopt;
  // URLAUTH's part comes last and is not signed itself.
  std::string_view auth;
  for (std::size_t i = 0; i + 9 <= rest.size(); ++i)
    if (rest[i] == ';' && iequal(rest.substr(i + 1, 8), "URLAUTH=")) {
      auth = rest.substr(i + 9);
      rest = rest.substr(0, i);
      break;
    }
  u.rump = std::string(url.substr(0, static_cast<std::size_t>(rest.data() + rest.size() - url.data())));
  // "/mailbox[;UIDVALIDITY=n]" then "/;UID=n" "/;SECTION=s" "/;PARTIAL=o[.l]" [";EXPIRE=..."]
  rest.remove_prefix(1);
  auto uid_at = rest.find("/;");
  if (uid_at == std::string_view::npos) return std::nullopt;
  std::string_view box = rest.substr(0, uid_at);
  if (auto semi = box.find(';'); semi != std::string_view::npos) {
    std::string_view v;
    if (!param(box.substr(semi + 1), "UIDVALIDITY", v)) return std::nullopt;
    auto n = number(v, 0xffffffffu);
    if (!n || *n == 0) return std::nullopt;
    u.uidvalidity = static_cast<std::uint32_t>(*n);
    box = box.substr(0, semi);
  }
  auto m = percent_decode(box);
  if (!m || m->empty()) return std::nullopt;
  u.mailbox = *m;
  rest.remove_prefix(uid_at);
  bool have_uid = false;
  while (!rest.empty()) {
    std::string_view v;
    if (rest[0] == ';') {  // ";EXPIRE=<date-time>", last
      if (!param(rest.substr(1), "EXPIRE", v) || v.empty() || v.size() > 64) return std::nullopt;
      u.expire = std::string(v);
      break;
    }
    if (!rest.starts_with("/;")) return std::nullopt;
    rest.remove_prefix(2);
    auto next = rest.find_first_of("/;");
    std::string_view piece = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
    if (!have_uid) {
      if (!param(piece, "UID", v)) return std::nullopt;
      auto n = number(v, 0xffffffffu);
      if (!n || *n == 0) return std::nullopt;
      u.uid = static_cast<std::uint32_t>(*n);
      have_uid = true;
    } else if (u.section.empty() && !u.partial && param(piece, "SECTION", v)) {
      auto s = percent_decode(v);
      if (!s || s->empty() || s->size() > 512) return std::nullopt;
      u.section = upper(*s);
    } else if (!u.partial && param(piece, "PARTIAL", v)) {
      auto dot = v.find('.');
      auto o = number(v.substr(0, dot), 0xffffffffu);
      if (!o) return std::nullopt;
      u.partial = true;
      u.partial_offset = *o;
      if (dot != std::string_view::npos) {
        auto l = number(v.substr(dot + 1), 0xffffffffu);
        if (!l || *l == 0) return std::nullopt;
        u.partial_length = *l;
      }
    } else {
      return std::nullopt;
    }
  }
  if (!have_uid) return std::nullopt;
  if (auth.data()) {
    // "<access>" or "<access>:<mech>:<token>"
    auto c1 = auth.find(':');
    std::string_view access = auth.substr(0, c1);
    if (access.empty() || access.size() > 256) return std::nullopt;
    for (char c : access)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"') return std::nullopt;
    u.access = std::string(access);
    if (c1 != std::string_view::npos) {
      auto c2 = auth.find(':', c1 + 1);
      if (c2 == std::string_view::npos) return std::nullopt;
      u.mechanism = upper(auth.substr(c1 + 1, c2 - c1 - 1));
      std::string_view token = auth.substr(c2 + 1);
      if (u.mechanism.empty() || token.size() < 32 || token.size() > 128) return std::nullopt;
      for (char c : token)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
      u.token = std::string(token);
    }
  }
  return u;
}

}  // namespace postern::imap
