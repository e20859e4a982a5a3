// relay_text: see relay_text.hpp.
#include "relay_text.hpp"

#include <algorithm>
#include <cstdlib>

#include "imap/imap_parse.hpp"

namespace imapd {

using postern::imap::parse_date_time;

std::optional<LiteralMark> literal_at_end(std::string_view l) {
  if (l.size() < 3 || l.back() != '}') return std::nullopt;
  auto open = l.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view d = l.substr(open + 1, l.size() - open - 2);
  LiteralMark m;
  m.plus = !d.empty() && d.back() == '+';
  if (m.plus) d.remove_suffix(1);
  if (d.empty() || d.size() > 10 || d.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  m.size = std::strtoull(std::string(d).c_str(), nullptr, 10);
  return m;
}

std::string literal_plus(const std::string& raw) {
  std::string out;
  bool line_ended = false;  // the last thing copied was a line's own CRLF
  std::size_t i = 0;
  while (i < raw.size()) {
    auto e = raw.find("\r\n", i);
    if (e == std::string::npos) {
      out.append(raw, i);
      line_ended = false;
      break;
    }
    std::string_view l(raw.data() + i, e - i);
    i = e + 2;
    auto lit = literal_at_end(l);
    if (lit && !lit->plus) {
      out.append(l.substr(0, l.size() - 1));
      out += "+}";
    } else {
      out.append(l);
    }
    out += "\r\n";
    line_ended = true;
    if (lit) {
      out.append(raw, i, lit->size);
      i += std::min<std::size_t>(lit->size, raw.size() - i);
      line_ended = false;  // a literal's own CRLFs end no line of the command
    }
  }
  if (!line_ended) out += "\r\n";
  return out;
}

std::optional<Fetched> parse_fetched(const std::string& r) {
  Fetched f;
  auto body = r.find("BODY[] {");
  if (body == std::string::npos) return std::nullopt;
  std::string head = r.substr(0, body);
  auto u = head.find("UID ");
  if (u == std::string::npos) return std::nullopt;
  f.uid = static_cast<std::uint32_t>(std::strtoul(head.c_str() + u + 4, nullptr, 10));
  auto fl = head.find("FLAGS (");
  if (fl != std::string::npos) {
    auto close = head.find(')', fl);
    std::string list = head.substr(fl + 7, close == std::string::npos ? 0 : close - fl - 7);
    for (std::size_t i = 0; i < list.size();) {
      auto sp = list.find(' ', i);
      std::string one = list.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
      if (!one.empty() && one != "\\Recent") f.flags.push_back(one);
      if (sp == std::string::npos) break;
      i = sp + 1;
    }
  }
  auto d = head.find("INTERNALDATE \"");
  if (d != std::string::npos) {
    auto close = head.find('"', d + 14);
    if (close != std::string::npos) f.when = parse_date_time(head.substr(d + 14, close - d - 14));
  }
  auto open = body + 8;
  auto close = r.find("}\r\n", open);
  if (close == std::string::npos) return std::nullopt;
  std::size_t n = std::strtoull(r.c_str() + open, nullptr, 10);
  if (n > r.size() || close + 3 + n > r.size()) return std::nullopt;
  f.data = r.substr(close + 3, n);
  return f;
}

std::optional<std::pair<std::string, std::string>> appenduid(const std::string& line) {
  auto a = line.find("[APPENDUID ");
  if (a == std::string::npos) return std::nullopt;
  auto close = line.find(']', a);
  if (close == std::string::npos) return std::nullopt;
  std::string in = line.substr(a + 11, close - a - 11);
  auto sp = in.find(' ');
  if (sp == std::string::npos) return std::nullopt;
  return std::pair{in.substr(0, sp), in.substr(sp + 1)};
}

}  // namespace imapd
