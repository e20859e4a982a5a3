// imap_parse: see imap_parse.hpp.
#include "imap/imap_parse.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

namespace postern::imap {

namespace {

// The literal size a line announces at its end ("... {12}" or "{12+}").
bool literal_at_end(std::string_view l, std::uint64_t& n, bool& plus) {
  while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
  if (l.empty() || l.back() != '}') return false;
  l.remove_suffix(1);
  plus = !l.empty() && l.back() == '+';
  if (plus) l.remove_suffix(1);
  std::size_t digits = 0;
  while (digits < l.size() && l[l.size() - 1 - digits] >= '0' && l[l.size() - 1 - digits] <= '9') ++digits;
  if (digits == 0 || digits > 12 || digits == l.size() || l[l.size() - 1 - digits] != '{') return false;
  n = 0;
  for (char c : l.substr(l.size() - digits)) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  return true;
}

const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int month_of(std::string_view m) {
  for (int i = 0; i < 12; ++i)
    if (iequal(m, months[i])) return i;
  return -1;
}

bool digits(std::string_view s, int& v) {
  if (s.empty() || s.size() > 9) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

std::time_t utc(int year, int mon, int day, int h = 0, int m = 0, int s = 0) {
  struct tm t {};
  t.tm_year = year - 1900;
  t.tm_mon = mon;
  t.tm_mday = day;
  t.tm_hour = h;
  t.tm_min = m;
  t.tm_sec = s;
  return ::timegm(&t);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

}  // namespace

namespace {

// Reads and drops n bytes of a literal the command will not use.
ReadStatus skip_bytes(NetIO& io, std::uint64_t n) {
  std::string chunk;
  while (n > 0) {
    auto r = io.some(chunk, static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 16)));
    if (r == NetIO::Read::timeout) return ReadStatus::timeout;
    if (r != NetIO::Read::line) return r == NetIO::Read::eof ? ReadStatus::eof : ReadStatus::error;
    n -= chunk.size();
  }
  return ReadStatus::ok;
}

// Drops the rest of a command from the non-synchronizing literal of n
// bytes on: its bytes, the lines after it and the literals those announce
// without waiting, so none of it is read as a command. It stops at a
// synchronizing literal: the client sends nothing until it gets "+".
ReadStatus skip_rest(NetIO& io, const Limits& lim, std::uint64_t n) {
  std::string line;
  for (;;) {
    if (n > lim.max_literal) return ReadStatus::literal_plus_big;
    if (auto r = skip_bytes(io, n); r != ReadStatus::ok) return r;
    std::string tail;
    for (;;) {
      auto r = io.line(line, lim.max_line);
      if (r == NetIO::Read::timeout) return ReadStatus::timeout;
      if (r != NetIO::Read::line && r != NetIO::Read::partial) return ReadStatus::eof;
      tail += line;
      if (tail.size() > 32) tail.erase(0, tail.size() - 32);
      if (r == NetIO::Read::line) break;
    }
    bool plus = false;
    if (!literal_at_end(tail, n, plus) || !plus) return ReadStatus::ok;
  }
}

}  // namespace

ReadStatus read_command(NetIO& io, const Limits& lim, std::string& out, LiteralSink* sink) {
  out.clear();
  std::string line;
  for (;;) {
    auto r = io.line(line, lim.max_line + 2);
    if (r == NetIO::Read::timeout) return ReadStatus::timeout;
    if (r == NetIO::Read::eof) return ReadStatus::eof;
    if (r == NetIO::Read::error) return ReadStatus::error;
    if (r == NetIO::Read::partial) {
      if (out.empty()) out = line.substr(0, 200);  // for the tag
      // The line's last bytes, to see whether it announces a literal.
      std::string tail = line.substr(line.size() - std::min<std::size_t>(line.size(), 32));
      for (;;) {
        r = io.line(line, lim.max_line);
        if (r != NetIO::Read::line && r != NetIO::Read::partial) return ReadStatus::eof;
        tail += line;
        if (tail.size() > 32) tail.erase(0, tail.size() - 32);
        if (r == NetIO::Read::line) break;
      }
      std::uint64_t n = 0;
      bool plus = false;
      // A synchronizing literal's bytes never come: the client waits for
      // "+" and gets BAD. A non-synchronizing one's are on their way.
      if (literal_at_end(tail, n, plus) && plus) {
        auto s = skip_rest(io, lim, n);
        if (s != ReadStatus::ok) return s;
      }
      return ReadStatus::too_long;
    }
    out += line;
    std::uint64_t n = 0;
    bool plus = false;
    if (!literal_at_end(line, n, plus)) return ReadStatus::ok;
    if (plus && n > lim.max_nonsync && n <= lim.max_literal) {
      // LITERAL- (RFC 7888 4): too big to come without "+"; its bytes are
      // on their way and are dropped with the rest of the command.
      auto s = skip_rest(io, lim, n);
      return s == ReadStatus::ok ? ReadStatus::literal_minus_big : s;
    }
    if (n > lim.max_literal) return plus ? ReadStatus::literal_plus_big : ReadStatus::literal_big;
    // The command's own text, literals a sink takes left out, is bounded
    // too: a client could otherwise add line after line of it, each
    // walked again by the sink at the next literal.
    if (out.size() > std::min(lim.max_command, Limits::max_command_text))
      return plus ? ReadStatus::literal_plus_big : ReadStatus::literal_big;
    bool taken = sink && sink->take(out, n);
    if (!taken && out.size() + n > lim.max_command)
      return plus ? ReadStatus::literal_plus_big : ReadStatus::literal_big;
    if (!plus) {
      io.put("+ OK\r\n");
      if (!io.flush()) return ReadStatus::error;
    }
    std::string chunk;
    while (n > 0) {
      r = io.some(chunk, static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 16)));
      if (r == NetIO::Read::timeout) return ReadStatus::timeout;
      if (r != NetIO::Read::line) return r == NetIO::Read::eof ? ReadStatus::eof : ReadStatus::error;
      if (taken) sink->write(chunk);
      else out += chunk;
      n -= chunk.size();
    }
  }
}

bool literal8_at_end(std::string_view so_far) {
  std::uint64_t n = 0;
  bool plus = false;
  if (!literal_at_end(so_far, n, plus)) return false;
  std::size_t brace = so_far.rfind('{');
  return brace != std::string_view::npos && brace > 0 && so_far[brace - 1] == '~';
}

std::optional<std::string> tag_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i < 64 && is_atom_char(line[i]) && line[i] != '+') ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') return std::nullopt;
  return std::string(line.substr(0, i));
}

std::optional<SeqSet> parse_seqset(std::string_view s) {
  SeqSet out;
  if (s.empty()) return std::nullopt;
  auto num = [](std::string_view v) -> std::optional<std::uint32_t> {
    if (v == "*") return star;
    if (v.empty() || v.size() > 10 || v[0] == '0') return std::nullopt;
    std::uint64_t n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    // 4294967295 is a valid nz-number (RFC 3501 section 9).
    if (n == 0 || n > 0xffffffffu) return std::nullopt;
    return static_cast<std::uint32_t>(n);
  };
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t comma = s.find(',', start);
    std::string_view part = s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      auto a = num(part);
      if (!a) return std::nullopt;
      out.emplace_back(*a, *a);
    } else {
      auto a = num(part.substr(0, colon)), b = num(part.substr(colon + 1));
      if (!a || !b) return std::nullopt;
      out.emplace_back(std::min(*a, *b), std::max(*a, *b));
    }
    if (out.size() > 100000) return std::nullopt;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool seq_contains(const SeqSet& set, std::uint32_t n, std::uint32_t max) {
  for (auto [a, b] : set) {
    std::uint32_t lo = a == star ? max : a, hi = b == star ? max : b;
    if (lo > hi) std::swap(lo, hi);
    if (n >= lo && n <= hi) return true;
  }
  return false;
}

SeqSet normalize(const SeqSet& set, std::uint32_t max) {
  SeqSet out;
  out.reserve(set.size());
  for (auto [a, b] : set) {
    std::uint32_t lo = a == star ? max : a, hi = b == star ? max : b;
    if (lo > hi) std::swap(lo, hi);
    out.emplace_back(lo, hi);
  }
  std::sort(out.begin(), out.end());
  std::size_t k = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (k > 0 && out[i].first <= out[k - 1].second + std::uint64_t{1})
      out[k - 1].second = std::max(out[k - 1].second, out[i].second);
    else
      out[k++] = out[i];
  }
  out.resize(k);
  return out;
}

bool in_set(const SeqSet& set, std::uint32_t n) {
  auto it = std::upper_bound(set.begin(), set.end(), n,
                             [](std::uint32_t v, const std::pair<std::uint32_t, std::uint32_t>& r) { return v < r.first; });
  return it != set.begin() && n <= std::prev(it)->second;
}

bool is_atom_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::strchr("(){%*\"\\]", c) == nullptr;
}

bool Parser::eol() {
  std::string_view r = s_.substr(pos_);
  return r.empty() || r == "\r\n" || r == "\n";
}

bool Parser::accept(char c) {
  if (peek() == c && pos_ < s_.size()) {
    ++pos_;
    return true;
  }
  return false;
}

std::optional<std::string> Parser::atom(std::string_view extra) {
  std::size_t start = pos_;
  while (pos_ < s_.size() && (is_atom_char(s_[pos_]) || (extra.find(s_[pos_]) != std::string_view::npos &&
                                                         static_cast<unsigned char>(s_[pos_]) > 0x20)))
    ++pos_;
  if (pos_ == start) return std::nullopt;
  return std::string(s_.substr(start, pos_ - start));
}

std::optional<std::string> Parser::quoted() {
  std::size_t save = pos_;
  if (!accept('"')) return std::nullopt;
  std::string out;
  while (pos_ < s_.size()) {
    char c = s_[pos_++];
    if (c == '"') return out;
    if (c == '\r' || c == '\n') break;
    if (c == '\\') {
      if (pos_ >= s_.size()) break;
      c = s_[pos_++];
      if (c != '"' && c != '\\') break;
    }
    out += c;
  }
  pos_ = save;
  return std::nullopt;
}

std::optional<std::string> Parser::literal() {
  std::size_t save = pos_;
  auto n = literal_marker();
  if (!n || *n > s_.size() - pos_) {
    pos_ = save;
    return std::nullopt;
  }
  std::string out(s_.substr(pos_, static_cast<std::size_t>(*n)));
  pos_ += static_cast<std::size_t>(*n);
  return out;
}

std::optional<std::string> Parser::literal8() {
  if (peek() != '~') return std::nullopt;
  ++pos_;
  auto out = literal();
  if (!out) --pos_;
  return out;
}

std::optional<std::uint64_t> Parser::literal8_marker() {
  if (peek() != '~') return std::nullopt;
  ++pos_;
  auto n = literal_marker();
  if (!n) --pos_;
  return n;
}

std::optional<std::uint64_t> Parser::literal_marker() {
  std::size_t save = pos_;
  if (!accept('{')) return std::nullopt;
  std::uint64_t n = 0;
  std::size_t d = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9' && d < 13) {
    n = n * 10 + static_cast<std::uint64_t>(s_[pos_++] - '0');
    ++d;
  }
  accept('+');
  if (d == 0 || !accept('}')) {
    pos_ = save;
    return std::nullopt;
  }
  accept('\r');
  if (!accept('\n')) {
    pos_ = save;
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> Parser::astring() {
  if (peek() == '"' || peek() == '{') return string();
  return atom("]");
}

std::optional<std::string> Parser::list_mailbox() {
  if (peek() == '"' || peek() == '{') return string();
  return atom("]%*");
}

std::optional<std::string> Parser::flag() {
  std::size_t save = pos_;
  if (accept('\\')) {
    if (accept('*')) return std::string("\\*");
    auto a = atom();
    if (!a) {
      pos_ = save;
      return std::nullopt;
    }
    return "\\" + *a;
  }
  return atom();
}

std::optional<std::vector<std::string>> Parser::flag_list(bool bare_ok) {
  std::vector<std::string> out;
  bool paren = accept('(');
  if (!paren && !bare_ok) return std::nullopt;
  if (paren && accept(')')) return out;
  for (;;) {
    auto f = flag();
    if (!f) return std::nullopt;
    out.push_back(*f);
    if (out.size() > 1000) return std::nullopt;
    if (paren && accept(')')) return out;
    if (!sp()) return paren ? std::nullopt : std::optional(out);
  }
}

std::optional<std::uint32_t> Parser::number() {
  auto n = number64();
  if (!n || *n > 0xffffffffULL) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

std::optional<std::uint64_t> Parser::number64() {
  std::size_t start = pos_;
  std::uint64_t n = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9' && pos_ - start < 19)
    n = n * 10 + static_cast<std::uint64_t>(s_[pos_++] - '0');
  if (pos_ == start || (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')) {
    pos_ = start;
    return std::nullopt;
  }
  return n;
}

std::string_view Parser::word() {
  std::size_t start = pos_;
  while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != ')' && s_[pos_] != '\r' && s_[pos_] != '\n') ++pos_;
  return s_.substr(start, pos_ - start);
}

std::string quote(std::string_view s) {
  bool lit = s.size() > 1000;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u == 0 || u >= 0x80) lit = true;
  }
  if (lit) return literal_of(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string nstring(const std::optional<std::string>& s) { return s ? quote(*s) : std::string("NIL"); }

std::string literal_of(std::string_view s) { return fmt::format("{{{}}}\r\n", s.size()) + std::string(s); }

std::string astring_out(std::string_view s) {
  if (s.empty() || iequal(s, "NIL")) return quote(s);
  for (char c : s)
    if (!is_atom_char(c) && c != ']') return quote(s);
  return std::string(s);
}

std::optional<std::time_t> parse_date(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  auto d1 = s.find('-');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = s.find('-', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  int day, year;
  int mon = month_of(s.substr(d1 + 1, d2 - d1 - 1));
  if (!digits(s.substr(0, d1), day) || mon < 0 || !digits(s.substr(d2 + 1), year) || day < 1 || day > 31 ||
      s.size() - d2 - 1 != 4)
    return std::nullopt;
  return utc(year, mon, day);
}

std::optional<std::time_t> parse_date_time(std::string_view s) {
  // "dd-Mon-yyyy hh:mm:ss +zzzz", the day possibly " d"
  if (s.size() == 26 && s[0] == ' ') s.remove_prefix(1);
  if (s.size() == 25) s = std::string_view(s);
  else if (s.size() != 26) return std::nullopt;
  std::string buf(s);
  if (buf.size() == 25) buf = "0" + buf;
  if (buf[0] == ' ') buf[0] = '0';
  std::string_view v = buf;
  auto day = parse_date(v.substr(0, 11));
  if (!day || v[11] != ' ' || v[14] != ':' || v[17] != ':' || v[20] != ' ' || (v[21] != '+' && v[21] != '-'))
    return std::nullopt;
  int h, m, sec, zone;
  if (!digits(v.substr(12, 2), h) || !digits(v.substr(15, 2), m) || !digits(v.substr(18, 2), sec) ||
      !digits(v.substr(22, 4), zone) || h > 23 || m > 59 || sec > 60)
    return std::nullopt;
  long off = (zone / 100) * 3600 + (zone % 100) * 60;
  if (v[21] == '-') off = -off;
  return *day + h * 3600 + m * 60 + sec - off;
}

std::string format_date_time(std::time_t t) {
  struct tm lt {};
  ::localtime_r(&t, &lt);
  long off = lt.tm_gmtoff / 60;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  return fmt::format("{:02d}-{}-{:04d} {:02d}:{:02d}:{:02d} {}{:02d}{:02d}", lt.tm_mday, months[lt.tm_mon],
                     lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec, sign, off / 60, off % 60);
}

namespace {

// Tokens of an RFC 5322 date: [dow ","] d mon y h:m[:s] zone, comments dropped.
bool parse_5322(std::string_view v, int& day, int& mon, int& year, int& h, int& m, int& s, long& off) {
  std::vector<std::string> tok;
  std::string cur;
  int depth = 0;
  for (char c : v) {
    if (c == '(') ++depth;
    if (depth > 0) {
      if (c == ')') --depth;
      continue;
    }
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
      if (!cur.empty()) tok.push_back(cur), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) tok.push_back(cur);
  std::size_t i = 0;
  if (i < tok.size() && !tok[i].empty() && !(tok[i][0] >= '0' && tok[i][0] <= '9')) ++i;  // day of week
  if (tok.size() < i + 3) return false;
  if (!digits(tok[i], day)) return false;
  mon = month_of(tok[i + 1]);
  if (mon < 0 || !digits(tok[i + 2], year)) return false;
  if (year < 50) year += 2000;
  else if (year < 1000) year += 1900;
  h = m = s = 0;
  off = 0;
  if (tok.size() > i + 3) {
    std::string_view t = tok[i + 3];
    auto c1 = t.find(':');
    if (c1 != std::string_view::npos) {
      auto c2 = t.find(':', c1 + 1);
      digits(t.substr(0, c1), h);
      digits(t.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1), m);
      if (c2 != std::string_view::npos) digits(t.substr(c2 + 1), s);
    }
    if (tok.size() > i + 4) {
      std::string_view z = tok[i + 4];
      int zz;
      if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && digits(z.substr(1), zz)) {
        off = (zz / 100) * 3600 + (zz % 100) * 60;
        if (z[0] == '-') off = -off;
      }
    }
  }
  return day >= 1 && day <= 31;
}

}  // namespace

std::optional<std::time_t> rfc5322_day(std::string_view value) {
  int day, mon, year, h, m, s;
  long off;
  if (!parse_5322(value, day, mon, year, h, m, s, off)) return std::nullopt;
  return utc(year, mon, day);
}

std::optional<std::time_t> rfc5322_time(std::string_view value) {
  int day, mon, year, h, m, s;
  long off;
  if (!parse_5322(value, day, mon, year, h, m, s, off)) return std::nullopt;
  return utc(year, mon, day, h, m, s) - off;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  std::string folded(needle);
  for (auto& c : folded) c = lower(c);
  // Blocks of hay, folded, each overlapping the next by needle - 1 bytes
  // so no match is split; memmem (two-way) is linear in each.
  constexpr std::size_t block = 1 << 16;
  std::string buf;
  for (std::size_t start = 0; start < hay.size(); start += block) {
    std::size_t len = std::min(hay.size() - start, block + folded.size() - 1);
    buf.assign(hay.substr(start, len));
    for (auto& c : buf) c = lower(c);
    if (::memmem(buf.data(), buf.size(), folded.data(), folded.size())) return true;
    if (start + len >= hay.size()) break;
  }
  return false;
}

}  // namespace postern::imap
