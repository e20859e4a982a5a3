// login_request: see login_request.hpp.
#include "login/login_request.hpp"

#include <sodium.h>

#include <cstdlib>

#include "base/secret.hpp"
#include "base/strings.hpp"

namespace postern::login {

Plain::~Plain() { secret::wipe(password); }
Request::~Request() { secret::wipe(password); }

bool valid_user(std::string_view s) {
  if (s.empty() || s.size() > max_user) return false;
  for (unsigned char ch : s)
    if (ch <= 32 || ch == 127) return false;
  return true;
}

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
  if (!valid_user(user) || pass.size() > max_password || ts.size() > max_timestamp || has_control(ts))
    return std::nullopt;
  Request r;
  r.user = std::string(user);
  r.password.reserve(pass.size() + 1);
  r.password.assign(pass);
  r.timestamp = std::string(ts);
  return r;
}

std::size_t encoded_size(const Request& r) { return r.user.size() + r.password.size() + r.timestamp.size() + 3; }

}  // namespace postern::login
