// logline: the parser of one log line (logline.hpp). Every read checks its
// bounds against the string_view it holds; nothing here allocates more than
// a copy of the line.
#include "logline.hpp"

#include <array>
#include <charconv>
#include <cstdint>

namespace postern::mailstats {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// n decimal digits at s[at..], nothing else.
std::optional<int> digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!is_digit(s[i])) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

struct Civil {
  int year, month, day, hour, minute, second;
};

bool plausible(const Civil& c) {
  return c.year >= 1970 && c.year <= 9999 && c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= 31 &&
         c.hour <= 23 && c.minute <= 59 && c.second <= 60;
}

// A civil time in UTC minus offset seconds, or local time when there is no
// offset (mktime asks TZ, and whether summer time applied then).
std::optional<double> to_epoch(const Civil& c, std::optional<long> offset) {
  if (!plausible(c)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = c.year - 1900;
  tm.tm_mon = c.month - 1;
  tm.tm_mday = c.day;
  tm.tm_hour = c.hour;
  tm.tm_min = c.minute;
  tm.tm_sec = c.second;
  if (offset) return static_cast<double>(::timegm(&tm) - *offset);
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<double>(t);
}

// multilog's label: '@', 16 hex digits of TAI64 seconds, 8 of nanoseconds.
std::optional<double> take_tai64n(std::string_view& rest) {
  if (rest.size() < 26 || rest[0] != '@' || rest[25] != ' ') return std::nullopt;
  std::uint64_t secs = 0;
  std::uint32_t nanos = 0;
  auto a = std::from_chars(rest.data() + 1, rest.data() + 17, secs, 16);
  auto b = std::from_chars(rest.data() + 17, rest.data() + 25, nanos, 16);
  if (a.ec != std::errc() || a.ptr != rest.data() + 17 || b.ec != std::errc() || b.ptr != rest.data() + 25)
    return std::nullopt;
  // TAI64 counts from 2^62, and TAI ran 10 seconds ahead of UTC in 1970
  // (tai64nlocal's own convention; later leap seconds are not counted).
  constexpr std::uint64_t base = (std::uint64_t{1} << 62) + 10;
  if (secs < base || secs - base > (std::uint64_t{1} << 40) || nanos >= 1000000000u) return std::nullopt;
  rest.remove_prefix(26);
  return static_cast<double>(secs - base) + nanos / 1e9;
}

// 2026-11-30T14:45:11[.123456][Z|+00:00|+0000] then a blank.
std::optional<double> take_iso(std::string_view& rest) {
  auto y = digits(rest, 0, 4), mo = digits(rest, 5, 2), d = digits(rest, 8, 2);
  auto h = digits(rest, 11, 2), mi = digits(rest, 14, 2), s = digits(rest, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || rest[4] != '-' || rest[7] != '-' || rest[10] != 'T' ||
      rest[13] != ':' || rest[16] != ':')
    return std::nullopt;
  std::size_t at = 19;
  double fraction = 0, scale = 0.1;
  if (at < rest.size() && rest[at] == '.') {
    ++at;
    std::size_t start = at;
    while (at < rest.size() && is_digit(rest[at]) && at - start < 12) {
      fraction += (rest[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == start) return std::nullopt;
  }
  std::optional<long> offset;
  if (at < rest.size() && rest[at] == 'Z') {
    offset = 0;
    ++at;
  } else if (at < rest.size() && (rest[at] == '+' || rest[at] == '-')) {
    int sign = rest[at] == '-' ? -1 : 1;
    auto oh = digits(rest, at + 1, 2);
    std::size_t m_at = at + 3 < rest.size() && rest[at + 3] == ':' ? at + 4 : at + 3;
    auto om = digits(rest, m_at, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    offset = sign * (*oh * 3600L + *om * 60L);
    at = m_at + 2;
  }
  if (at >= rest.size() || rest[at] != ' ') return std::nullopt;
  auto t = to_epoch({*y, *mo, *d, *h, *mi, *s}, offset);
  if (!t) return std::nullopt;
  rest.remove_prefix(at + 1);
  return *t + fraction;
}

// syslog's "Nov 30 14:45:11 " (the day may be padded with a blank).
std::optional<double> take_syslog(std::string_view& rest, int year) {
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (rest.size() < 16 || rest[3] != ' ') return std::nullopt;
  int month = 0;
  for (std::size_t i = 0; i < months.size(); ++i)
    if (rest.substr(0, 3) == months[i]) month = static_cast<int>(i) + 1;
  if (!month) return std::nullopt;
  std::size_t at = rest[4] == ' ' ? 5 : 4;
  std::optional<int> day;
  if (auto two = digits(rest, at, 2)) {
    day = two;
    at += 2;
  } else if ((day = digits(rest, at, 1))) {
    at += 1;
  }
  if (!day || at >= rest.size() || rest[at] != ' ') return std::nullopt;
  auto h = digits(rest, at + 1, 2), mi = digits(rest, at + 4, 2), s = digits(rest, at + 7, 2);
  if (!h || !mi || !s || rest[at + 3] != ':' || rest[at + 6] != ':' || at + 9 >= rest.size() ||
      rest[at + 9] != ' ')
    return std::nullopt;
  std::optional<double> t;
  if (year) {
    t = to_epoch({year, month, *day, *h, *mi, *s}, std::nullopt);
  } else {  // this year, unless that is ahead of now: a December line read in January
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    t = to_epoch({tm.tm_year + 1900, month, *day, *h, *mi, *s}, std::nullopt);
    if (t && *t > static_cast<double>(now) + 86400)
      t = to_epoch({tm.tm_year + 1899, month, *day, *h, *mi, *s}, std::nullopt);
  }
  if (t) rest.remove_prefix(at + 10);
  return t;
}

// The next blank-separated word of rest, which is advanced past it.
std::string_view take_word(std::string_view& rest) {
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
  auto end = rest.find(' ');
  auto word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}

// "send:", "smtpd[12]:", "postern/send[123]:" name a program we count.
std::optional<std::string> our_program(std::string_view tag) {
  tag.remove_suffix(1);  // the colon
  if (!tag.empty() && tag.back() == ']') {
    auto open = tag.rfind('[');
    if (open == std::string_view::npos) return std::nullopt;
    tag = tag.substr(0, open);
  }
  if (auto slash = tag.rfind('/'); slash != std::string_view::npos) tag.remove_prefix(slash + 1);
  if (tag == "send" || tag == "smtpd") return std::string(tag);
  return std::nullopt;
}

// Splits the text after the program tag into fields; false on a quoted
// value without its closing quote.
bool split_fields(std::string_view rest, std::vector<std::pair<std::string, std::string>>& fields) {
  for (;;) {
    while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    if (rest.empty()) return true;
    std::size_t eq = 0;
    while (eq < rest.size() && rest[eq] != ' ' && rest[eq] != '=') ++eq;
    if (eq == rest.size() || rest[eq] == ' ') {  // a bare word
      fields.emplace_back(std::string(rest.substr(0, eq)), std::string());
      rest.remove_prefix(eq);
      continue;
    }
    std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (!rest.empty() && rest[0] == '"') {
      std::size_t i = 1;
      for (;; ++i) {
        // A line cut by the logger (splogger keeps 800 bytes) ends inside
        // its last quoted value, mostly a long reason: keep what is there.
        if (i >= rest.size()) {
          --i;
          break;
        }
        if (rest[i] == '"') break;
        if (rest[i] == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) ++i;
        value += rest[i];
      }
      rest.remove_prefix(i + 1);
    } else {
      auto end = rest.find(' ');
      value = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    }
    fields.emplace_back(std::move(key), std::move(value));
  }
}

bool bare(const std::pair<std::string, std::string>& f, std::string_view word) {
  return f.first == word && f.second.empty();
}

}  // namespace

std::optional<std::string_view> LogLine::get(std::string_view key) const {
  for (auto& [k, v] : fields)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::optional<double> take_timestamp(std::string_view& rest, int year) {
  if (rest.empty()) return std::nullopt;
  if (rest[0] == '@') return take_tai64n(rest);
  if (is_digit(rest[0])) return take_iso(rest);
  return take_syslog(rest, year);
}

ParseResult parse_line(std::string_view text, int year, LogLine& out) {
  out = LogLine{};
  if (text.ends_with('\r')) text.remove_suffix(1);  // a log copied from another system
  std::string_view rest = text;
  out.time = take_timestamp(rest, year);
  // Up to three words before the program's tag: a host after a timestamp,
  // then tags such as syslog's "postern:" in front of "send:".
  std::optional<std::string> program;
  for (int i = 0; i < 4 && !program; ++i) {
    auto word = take_word(rest);
    if (word.size() < 2) return ParseResult::other;
    if (word.back() != ':') {
      if (i == 0 && out.time) continue;  // the host
      return ParseResult::other;
    }
    program = our_program(word);
  }
  if (!program) return ParseResult::other;
  out.program = *program;
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
  bool counted_shape = rest.starts_with("msg=") || (out.program == "smtpd" && rest.starts_with("reject "));
  if (!split_fields(rest, out.fields)) return counted_shape ? ParseResult::malformed : ParseResult::other;
  auto& f = out.fields;
  if (f.size() >= 1 && bare(f[0], "reject") && out.program == "smtpd") {
    out.kind = LogLine::Kind::reject;
    return ParseResult::ours;
  }
  if (f.size() < 2 || f[0].first != "msg") return ParseResult::other;
  if (f[0].second.empty()) return ParseResult::malformed;
  out.msg = f[0].second;
  if (out.program == "smtpd") {
    if (!bare(f[1], "accepted")) return ParseResult::other;
    out.kind = LogLine::Kind::accepted;
  } else if (bare(f[1], "new")) {
    out.kind = LogLine::Kind::queued;
  } else if (bare(f[1], "end")) {
    out.kind = LogLine::Kind::end;
  } else if (f[1].first == "bounce") {
    out.kind = LogLine::Kind::bounce;
  } else if (f[1].first == "to") {
    out.kind = LogLine::Kind::delivery;
    auto status = out.get("status");
    if (!status || (*status != "sent" && *status != "deferred" && *status != "bounced"))
      return ParseResult::malformed;
  } else {
    return ParseResult::other;
  }
  return ParseResult::ours;
}

std::optional<std::time_t> parse_when(std::string_view text) {
  auto y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-') return std::nullopt;
  Civil c{*y, *mo, *d, 0, 0, 0};
  if (text.size() > 10) {
    auto h = digits(text, 11, 2), mi = digits(text, 14, 2);
    if ((text[10] != 'T' && text[10] != ' ') || !h || !mi || text[13] != ':') return std::nullopt;
    c.hour = *h;
    c.minute = *mi;
    if (text.size() > 16) {
      auto s = digits(text, 17, 2);
      if (text[16] != ':' || !s || text.size() != 19) return std::nullopt;
      c.second = *s;
    } else if (text.size() != 16) {
      return std::nullopt;
    }
  }
  auto t = to_epoch(c, std::nullopt);
  if (!t) return std::nullopt;
  return static_cast<std::time_t>(*t);
}

}  // namespace postern::mailstats
