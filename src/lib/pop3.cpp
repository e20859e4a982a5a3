// pop3: see pop3.hpp.
#include "pop3.hpp"

#include <sodium.h>

#include <cstdlib>

#include "secret.hpp"
#include "strings.hpp"

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

void SizeCounter::feed(std::string_view in) {
  for (char ch : in) {
    if (ch == '\n' && !last_cr_) ++size_;
    ++size_;
    last_cr_ = ch == '\r';
  }
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

Plain::~Plain() { secret::wipe(password); }
Request::~Request() { secret::wipe(password); }

std::optional<Plain> decode_plain(std::string_view b64) {
  if (sodium_init() < 0) std::abort();
  if (b64.empty() || b64.size() > 2048) return std::nullopt;
  std::string bin(b64.size(), '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), b64.data(), b64.size(), nullptr,
                        &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size()) {
    secret::wipe(bin);
    return std::nullopt;
  }
  bin.resize(len);
  std::size_t a = bin.find('\0');
  std::size_t b = a == std::string::npos ? a : bin.find('\0', a + 1);
  if (b == std::string::npos || bin.find('\0', b + 1) != std::string::npos) {
    secret::wipe(bin);
    return std::nullopt;
  }
  Plain p;
  p.authzid = bin.substr(0, a);
  p.authcid = bin.substr(a + 1, b - a - 1);
  p.password.reserve(bin.size());
  p.password.assign(bin, b + 1);
  secret::wipe(bin);
  if (!p.authzid.empty() && !valid_user(p.authzid)) return std::nullopt;
  if (!valid_user(p.authcid) || p.password.empty()) return std::nullopt;
  return p;
}

bool valid_user(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (unsigned char ch : s)
    if (ch <= 32 || ch == 127) return false;
  return true;
}

std::string encode_request(std::string_view user, std::string_view password, std::string_view timestamp) {
  std::string out;
  out.reserve(user.size() + password.size() + timestamp.size() + 3);
  out.append(user);
  out += '\0';
  out.append(password);
  out += '\0';
  out.append(timestamp);
  out += '\0';
  return out;
}

std::optional<Request> decode_request(std::string_view data) {
  std::size_t a = data.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  std::size_t b = data.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::size_t c = data.find('\0', b + 1);
  if (c == std::string_view::npos) return std::nullopt;
  std::string_view user = data.substr(0, a), pass = data.substr(a + 1, b - a - 1),
                   ts = data.substr(b + 1, c - b - 1);
  if (!valid_user(user) || pass.size() > 512 || ts.size() > 255 || has_control(ts)) return std::nullopt;
  Request r;
  r.user = std::string(user);
  r.password.reserve(pass.size() + 1);
  r.password.assign(pass);
  r.timestamp = std::string(ts);
  return r;
}

}  // namespace postern::pop3
