// sasl_plain: see sasl_plain.hpp. Trusts nothing in the response;
// decode_plain bounds it (2048 bytes of base64) and checks the
// names.
#include "login/sasl_plain.hpp"

#include "base/secret.hpp"
#include "login/login_request.hpp"

namespace postern::login {

PlainLogin::~PlainLogin() { secret::wipe(password); }

PlainVerdict judge_plain(std::string_view response, PlainLogin& out) {
  if (response == "*") return PlainVerdict::cancelled;
  if (response == "=") response = {};
  auto plain = decode_plain(response);
  if (!plain) return PlainVerdict::malformed;
  if (!plain->authzid.empty() && plain->authzid != plain->authcid) return PlainVerdict::other_user;
  if (!valid_user(plain->authcid) || plain->password.empty() || plain->password.size() > max_password)
    return PlainVerdict::refused;
  out.user = plain->authcid;
  out.password.reserve(plain->password.size());
  out.password.assign(plain->password);
  return PlainVerdict::login;
}

}  // namespace postern::login
