// imap_files: see imap_files.hpp.
#include "imap/imap_files.hpp"

#include <fmt/format.h>

namespace postern::imap {

namespace {

// Splits text into its '\n'-ended lines; a last line without '\n' is
// reported through torn and not returned (a writer may still be on it).
std::vector<std::string_view> lines_of(std::string_view text, bool* torn = nullptr) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) {
      if (torn) *torn = true;
      else out.push_back(text.substr(pos));
      break;
    }
    out.push_back(text.substr(pos, e - pos));
    pos = e + 1;
  }
  return out;
}

// A decimal number that must fit in max; nullopt for none or overflow.
std::optional<std::uint64_t> number(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

bool clean_name(std::string_view n) {
  if (n.empty() || n.size() > 1024) return false;
  for (char c : n)
    if (c == '/' || c == '\n' || c == '\r' || c == '\0') return false;
  return true;
}

// Dovecot's tab escaping of the version-2 subscriptions file (\001 leads).
std::string tab_unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\001' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    out += c == '1' ? '\001' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'n' ? '\n' : c == '0' ? '\0' : c;
  }
  return out;
}

std::string tab_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\001': out += "\0011"; break;
      case '\t': out += "\001t"; break;
      case '\r': out += "\001r"; break;
      case '\n': out += "\001n"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

bool valid_keyword(std::string_view k) {
  if (k.empty() || k.size() > 200 || k[0] == '\\') return false;
  for (char c : k) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
        c == ']')
      return false;
  }
  return true;
}

std::optional<Uidlist> parse_uidlist(std::string_view text) {
  Uidlist u;
  auto lines = lines_of(text, &u.torn);
  if (lines.empty()) return std::nullopt;
  std::string_view head = lines[0];
  if (head.size() < 2 || head[1] != ' ' || (head[0] != '1' && head[0] != '3')) return std::nullopt;
  u.version = head[0] - '0';
  u.next = 0;
  std::string_view rest = head.substr(2);
  if (u.version == 1) {
    auto sp = rest.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    auto v = number(rest.substr(0, sp), 0xffffffffu);
    auto n = number(rest.substr(sp + 1), 0xffffffffu);
    if (!v || !n) return std::nullopt;
    u.validity = static_cast<std::uint32_t>(*v);
    u.next = static_cast<std::uint32_t>(*n);
  } else {
    std::size_t i = 0;
    while (i < rest.size()) {
      std::size_t sp = rest.find(' ', i);
      std::string_view tok = rest.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i);
      i = sp == std::string_view::npos ? rest.size() : sp + 1;
      if (tok.empty()) continue;
      std::string_view val = tok.substr(1);
      if (tok[0] == 'V') {
        auto v = number(val, 0xffffffffu);
        if (!v) return std::nullopt;
        u.validity = static_cast<std::uint32_t>(*v);
      } else if (tok[0] == 'N') {
        auto v = number(val, 0xffffffffu);
        if (!v) return std::nullopt;
        u.next = static_cast<std::uint32_t>(*v);
      } else if (tok[0] == 'G') {
        if (val.size() != 32 || !is_hex(val)) return std::nullopt;
        u.guid = std::string(val);
      } else {
        if (!u.hdr_ext.empty()) u.hdr_ext += ' ';
        u.hdr_ext += tok;
      }
    }
  }
  if (u.validity == 0 || u.next == 0) return std::nullopt;
  std::uint32_t prev = 0;
  for (std::size_t l = 1; l < lines.size(); ++l) {
    std::string_view line = lines[l];
    std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    auto uid = number(line.substr(0, sp), 0xfffffffeu);
    if (!uid || *uid == 0 || *uid <= prev) continue;
    UidRecord r;
    r.uid = static_cast<std::uint32_t>(*uid);
    std::string_view rest2 = line.substr(sp + 1);
    if (u.version == 3) {
      // Extensions until a token that starts with ':'; the name follows it.
      while (!rest2.empty() && rest2[0] != ':') {
        std::size_t e = rest2.find(' ');
        std::string_view tok = rest2.substr(0, e);
        if (!tok.empty() && tok[0] >= 'A' && tok[0] <= 'Z') r.ext.emplace_back(tok);
        rest2 = e == std::string_view::npos ? std::string_view{} : rest2.substr(e + 1);
        while (!rest2.empty() && rest2[0] == ' ') rest2.remove_prefix(1);
      }
      if (rest2.empty()) continue;
      rest2.remove_prefix(1);
    }
    std::string_view base = rest2.substr(0, rest2.find(':'));
    if (!clean_name(base)) continue;
    r.base = std::string(base);
    prev = r.uid;
    u.recs.push_back(std::move(r));
  }
  if (!u.recs.empty() && u.next <= u.recs.back().uid) u.next = u.recs.back().uid + 1;
  return u;
}

std::string uidlist_header(const Uidlist& u) {
  std::string h = fmt::format("3 V{} N{} G{}", u.validity, u.next, u.guid);
  if (!u.hdr_ext.empty()) h += " " + u.hdr_ext;
  return h + "\n";
}

std::string uidlist_record(const UidRecord& r) {
  std::string s = std::to_string(r.uid);
  for (auto& e : r.ext) s += " " + e;
  s += " :";
  s += r.base;
  s += '\n';
  return s;
}

std::optional<std::uint64_t> record_number(const UidRecord& r, char key) {
  for (auto& e : r.ext)
    if (!e.empty() && e[0] == key) return number(std::string_view(e).substr(1), 1ULL << 62);
  return std::nullopt;
}

std::vector<std::string> parse_keywords(std::string_view text) {
  std::vector<std::string> out;
  for (auto line : lines_of(text)) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    auto idx = number(line.substr(0, sp), 1000);
    std::string_view name = line.substr(sp + 1);
    if (!idx || *idx >= 26 || !valid_keyword(name)) continue;
    if (out.size() <= *idx) out.resize(*idx + 1);
    out[*idx] = std::string(name);
  }
  // One name in two slots would make two letters one flag: keep the first.
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (!out[i].empty() && out[i] == out[j]) out[i].clear();
  return out;
}

std::string format_keywords(const std::vector<std::string>& kws) {
  std::string text;
  for (std::size_t k = 0; k < kws.size() && k < 26; ++k)
    if (!kws[k].empty()) text += fmt::format("{} {}\n", k, kws[k]);
  return text;
}

CourierKeywords parse_courier_keywords(std::string_view text) {
  CourierKeywords c;
  bool names = true;
  for (auto line : lines_of(text)) {
    if (names) {
      if (line.empty()) names = false;
      else c.names.emplace_back(valid_keyword(line) ? line : std::string_view{});
      if (c.names.size() > 4096) break;
      continue;
    }
    auto colon = line.rfind(':');
    if (colon == std::string_view::npos || !clean_name(line.substr(0, colon))) continue;
    std::vector<std::uint32_t> idx;
    std::string_view rest = line.substr(colon + 1);
    std::size_t i = 0;
    while (i < rest.size()) {
      std::size_t sp = rest.find(' ', i);
      auto n = number(rest.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i), 4095);
      if (n && *n < c.names.size()) idx.push_back(static_cast<std::uint32_t>(*n));
      if (sp == std::string_view::npos) break;
      i = sp + 1;
    }
    c.msgs.emplace_back(std::string(line.substr(0, colon)), std::move(idx));
  }
  return c;
}

Subscriptions parse_subscriptions(std::string_view text) {
  Subscriptions s;
  auto lines = lines_of(text);
  std::size_t first = 0;
  if (!lines.empty() && lines[0] == "V\t2") {
    s.version = 2;
    first = 1;
  }
  for (std::size_t i = first; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) continue;
    std::string name;
    if (s.version == 2) {
      // Each level tab-escaped, levels joined by a tab.
      std::size_t pos = 0;
      for (;;) {
        std::size_t t = line.find('\t', pos);
        if (!name.empty() || pos) name += '.';
        name += tab_unescape(line.substr(pos, t == std::string_view::npos ? std::string_view::npos : t - pos));
        if (t == std::string_view::npos) break;
        pos = t + 1;
      }
    } else {
      name = std::string(line);
    }
    if (name.empty() || name.find('\0') != std::string::npos || name.size() > 1024) continue;
    bool dup = false;
    for (auto& n : s.names) dup = dup || n == name;
    if (!dup) s.names.push_back(std::move(name));
  }
  return s;
}

std::string format_subscriptions(const Subscriptions& s) {
  std::string text;
  if (s.version == 2) text = "V\t2\n\n";
  for (auto& n : s.names) {
    if (s.version != 2) {
      text += n + "\n";
      continue;
    }
    std::size_t pos = 0;
    for (;;) {
      std::size_t d = n.find('.', pos);
      if (pos) text += '\t';
      text += tab_escape(std::string_view(n).substr(pos, d == std::string::npos ? std::string::npos : d - pos));
      if (d == std::string::npos) break;
      pos = d + 1;
    }
    text += '\n';
  }
  return text;
}

}  // namespace postern::imap
