// sasl: see sasl.hpp.
#include "login/sasl.hpp"

#include <sodium.h>

#include <cstdlib>

#include "base/secret.hpp"
#include "base/strings.hpp"
#include "login/login_request.hpp"

namespace postern::login::sasl {

namespace {

// "Username:" and "Password:": what every LOGIN client expects to see.
constexpr std::string_view login_user_challenge = "VXNlcm5hbWU6";
constexpr std::string_view login_password_challenge = "UGFzc3dvcmQ6";

}  // namespace

std::optional<Mech> mechanism(std::string_view name) {
  std::string n = lower(name);
  if (n == "plain") return Mech::plain;
  if (n == "login") return Mech::login;
  return std::nullopt;
}

std::string encode(std::string_view bytes) {
  if (sodium_init() < 0) std::abort();
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the NUL libsodium writes
  return out;
}

std::optional<std::string> decode_text(std::string_view b64, std::size_t max) {
  if (sodium_init() < 0) std::abort();
  if (b64.size() > max_line || b64.size() % 4 != 0) return std::nullopt;
  std::string bin(b64.size(), '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), b64.data(), b64.size(), nullptr,
                        &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size() || len > max) {
    secret::wipe(bin);
    return std::nullopt;
  }
  bin.resize(len);
  if (bin.find('\0') != std::string::npos) {
    secret::wipe(bin);
    return std::nullopt;
  }
  return bin;
}

Exchange::~Exchange() {
  secret::wipe(user_);
  secret::wipe(password_);
}

Exchange::Step Exchange::failed(std::string why) {
  wait_ = Wait::nothing;
  secret::wipe(user_);
  secret::wipe(password_);
  return {Step::Kind::failed, std::move(why)};
}

Exchange::Step Exchange::plain(std::string_view response) {
  if (response.size() > max_line) return failed("a PLAIN response too long");
  auto p = decode_plain(response);
  if (!p) return failed("a malformed PLAIN response");
  // No proxy logins: a client may name only itself as the identity to act as.
  if (!p->authzid.empty() && p->authzid != p->authcid) return failed("a PLAIN authorization identity of another user");
  if (p->password.size() > max_password) return failed("a password too long");
  user_ = p->authcid;
  password_.reserve(p->password.size() + 1);
  password_.assign(p->password);
  wait_ = Wait::nothing;
  return {Step::Kind::done, ""};
}

Exchange::Step Exchange::start(Mech m, std::optional<std::string_view> initial) {
  secret::wipe(user_);
  secret::wipe(password_);
  if (m == Mech::plain) {
    if (!initial) {
      wait_ = Wait::plain;
      return {Step::Kind::challenge, ""};
    }
    if (*initial == "=") return failed("an empty PLAIN response");
    return plain(*initial);
  }
  wait_ = Wait::login_user;
  if (!initial) return {Step::Kind::challenge, std::string(login_user_challenge)};
  // Some clients send the user name with AUTH LOGIN itself.
  return next(*initial == "=" ? std::string_view() : *initial);
}

Exchange::Step Exchange::next(std::string_view line) {
  if (line == "*") {
    wait_ = Wait::nothing;
    secret::wipe(user_);
    secret::wipe(password_);
    return {Step::Kind::cancelled, ""};
  }
  switch (wait_) {
    case Wait::nothing: return failed("no exchange in progress");
    case Wait::plain: return plain(line);
    case Wait::login_user: {
      auto u = decode_text(line, max_user);
      if (!u || !valid_user(*u)) return failed("a malformed LOGIN user name");
      user_ = std::move(*u);
      wait_ = Wait::login_password;
      return {Step::Kind::challenge, std::string(login_password_challenge)};
    }
    case Wait::login_password: {
      auto p = decode_text(line, max_password);
      if (!p || p->empty()) return failed("a malformed LOGIN password");
      password_.reserve(p->size() + 1);
      password_.assign(*p);
      secret::wipe(*p);
      wait_ = Wait::nothing;
      return {Step::Kind::done, ""};
    }
  }
  return failed("no exchange in progress");
}

}  // namespace postern::login::sasl
