// log_lines: see log_lines.hpp.
#include "log_lines.hpp"

#include <fmt/format.h>

#include <cctype>
#include <chrono>

#include "base/log.hpp"

namespace postern::send::log_lines {

namespace {

bool digits(const std::string& s, std::size_t from, std::size_t to) {
  if (from >= to || to - from > 3) return false;
  for (std::size_t i = from; i < to; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// The length of an enhanced status code "C.S.D" at s[at], or 0.
std::size_t code_at(const std::string& s, std::size_t at) {
  if (at >= s.size() || (s[at] != '2' && s[at] != '4' && s[at] != '5')) return 0;
  std::size_t dot1 = at + 1;
  if (dot1 >= s.size() || s[dot1] != '.') return 0;
  std::size_t dot2 = s.find('.', dot1 + 1);
  if (dot2 == std::string::npos || !digits(s, dot1 + 1, dot2)) return 0;
  std::size_t end = dot2 + 1;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  if (!digits(s, dot2 + 1, end)) return 0;
  if (end < s.size() && s[end] != ' ' && s[end] != ')' && s[end] != '\t') return 0;
  return end - at;
}

bool fits(char cls, char state) {
  switch (state) {
    case 'D': return cls == '2';
    case 'P': return cls == '4';
    default: return cls == '5' || cls == '4';
  }
}

std::string seconds(double s) { return fmt::format("{:.3f}", s < 0 ? 0.0 : s); }

}  // namespace

std::string dsn(const std::string& text, char state) {
  // qmail's "(#x.y.z)" is the delivery's own verdict; it wins.
  for (auto p = text.find("(#"); p != std::string::npos; p = text.find("(#", p + 2))
    if (auto n = code_at(text, p + 2); n && p + 2 + n < text.size() && text[p + 2 + n] == ')' && fits(text[p + 2], state))
      return text.substr(p + 2, n);
  // An SMTP reply: a three-digit code, a space, the enhanced code.
  for (std::size_t p = 0; p + 4 < text.size(); ++p) {
    if (!(p == 0 || text[p - 1] == ' ') || !digits(text, p, p + 3) || text[p + 3] != ' ') continue;
    if (auto n = code_at(text, p + 4); n && text[p + 4] == text[p] && fits(text[p + 4], state))
      return text.substr(p + 4, n);
  }
  return state == 'D' ? "2.0.0" : state == 'P' ? "4.0.0" : "5.0.0";
}

std::string relay(const std::string& text) {
  static const std::string mark = "Remote host ";
  auto p = text.find(mark);
  if (p == std::string::npos) return "none";
  p += mark.size();
  // The host is one word: "mx[192.0.2.1]", "[192.0.2.1][192.0.2.1]",
  // "mx[2001:db8::1]:587", perhaps with a colon after it.
  std::string host = text.substr(p, text.find(' ', p) - p);
  if (!host.empty() && host.back() == ':') host.pop_back();
  auto close = host.rfind(']');
  if (host.find('[') == std::string::npos || close == std::string::npos) return "none";
  if (close + 1 < host.size()) {
    bool port = host[close + 1] == ':' && close + 2 < host.size() && host.size() - close - 2 <= 5;
    for (std::size_t i = close + 2; port && i < host.size(); ++i)
      port = std::isdigit(static_cast<unsigned char>(host[i])) != 0;
    if (!port) host.resize(close + 1);
  }
  return host;
}

std::string attempt(const Attempt& a) {
  const char* status = a.state == 'D' ? "sent" : a.state == 'P' ? "deferred" : "bounced";
  return log::kv("msg", a.id) + " " + log::kv("to", "<" + a.address + ">") + " " +
         log::kv("channel", a.channel == 'L' ? "local" : "remote") + " " +
         log::kv("relay", a.channel == 'L' ? "local" : relay(a.text)) + " " +
         log::kv("delay", seconds(a.ended - a.arrived)) + " " +
         log::kv("delays", seconds(a.started - a.arrived) + "/" + seconds(a.ended - a.started)) + " " +
         log::kv("dsn", dsn(a.text, a.state)) + " " + log::kv("status", status) + " " +
         log::kv("reason", a.text, 1000);
}

std::string new_message(const std::string& id, const std::string& sender, long size, std::size_t recipients) {
  return log::kv("msg", id) + " new " + log::kv("from", "<" + sender + ">") + " " +
         log::kv("size", std::to_string(size)) + " " + log::kv("nrcpt", std::to_string(recipients));
}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace postern::send::log_lines
