// pop3: see pop3.hpp.
#include "pop3/pop3.hpp"

#include <sodium.h>

#include <cstdlib>

#include "base/strings.hpp"

namespace postern::pop3 {

std::optional<Command> parse_command(std::string_view line) {
  line = chomp(line);
  if (line.empty() || has_control(line)) return std::nullopt;
  Command c;
  std::size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  if (verb.empty() || verb.size() > 8) return std::nullopt;
  for (char ch : verb) {
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) return std::nullopt;
    c.verb += static_cast<char>(ch >= 'a' ? ch - 32 : ch);
  }
  if (sp != std::string_view::npos) {
    c.rest = std::string(line.substr(sp + 1));
    for (auto& a : split(c.rest, ' '))
      if (!a.empty()) c.args.push_back(a);
  }
  return c;
}

std::string refusal(const Command& c, State s) {
  for (const Verb& v : verbs) {
    if (v.name != c.verb) continue;
    if (!(v.states & static_cast<unsigned char>(s)))
      return s == State::authorization ? "-ERR log in first" : "-ERR already logged in";
    if (c.args.size() < v.min_args || c.args.size() > v.max_args) return "-ERR wrong number of arguments";
    return "";
  }
  return "-ERR unknown command";
}

std::optional<std::uint64_t> count(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  return n;
}

std::optional<std::size_t> message_number(std::string_view s, std::size_t max) {
  auto n = count(s);
  if (!n || *n == 0 || *n > max) return std::nullopt;
  return static_cast<std::size_t>(*n);
}

void Transfer::end_line(std::string& out) {
  out += "\r\n";
  if (in_header_) {
    if (empty_line_) in_header_ = false;  // the blank line after the header
  } else if (limit_ >= 0) {
    ++body_sent_;
  }
  line_start_ = true;
  empty_line_ = true;
  if (!in_header_ && limit_ >= 0 && body_sent_ >= limit_) done_ = true;
}

void Transfer::feed(std::string_view in, std::string& out) {
  if (!in_header_ && limit_ == 0) done_ = true;
  for (char ch : in) {
    if (done_) return;
    if (pending_cr_) {
      pending_cr_ = false;
      if (ch == '\n') {
        end_line(out);
        continue;
      }
      // A lone CR inside a line is passed on as it is.
      if (line_start_) line_start_ = false;
      out += '\r';
      empty_line_ = false;
    }
    if (ch == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (ch == '\n') {
      end_line(out);
      continue;
    }
    if (line_start_ && ch == '.') out += '.';
    line_start_ = false;
    empty_line_ = false;
    out += ch;
  }
}

void Transfer::finish(std::string& out) {
  if (!done_) {
    if (pending_cr_) {
      pending_cr_ = false;
      out += '\r';
      line_start_ = false;
    }
    if (!line_start_) out += "\r\n";
  }
  out += ".\r\n";
}

std::string uidl_of(std::string_view name) {
  std::string_view base = name.substr(0, name.find(':'));
  bool ok = !base.empty() && base.size() <= 70;
  for (unsigned char ch : base)
    if (ch < 0x21 || ch > 0x7e) ok = false;
  if (ok) return std::string(base);
  if (sodium_init() < 0) std::abort();
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(base.data()), base.size(), nullptr, 0);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string("h") + hex;
}

}  // namespace postern::pop3
