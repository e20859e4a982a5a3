// auth: the AUTH command (RFC 4954) with PLAIN and LOGIN, offered only on
// an encrypted connection and only when main.cpp has a login parent to
// ask (smtpd -s, or control/smtpauth). The client's lines go through
// login/sasl, which bounds and checks them; the password goes up to the
// root parent as a checkpassword request and is wiped here. The parent
// delays and counts failures and logs them with the client's address; the
// session only says what it answered. Returns false to close the
// connection.
#include "base/log.hpp"
#include "base/secret.hpp"
#include "base/strings.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "login/sasl.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

namespace sasl = login::sasl;

bool Session::auth(const std::string& arg) {
  if (!check_login) {
    log::line("unrecognised command from {}: AUTH (not offered here)", client_.name());
    return error("502 5.5.1 AUTH is not available here");
  }
  if (!extended_) return error("503 5.5.1 send EHLO first");
  if (!login_.empty()) return error("503 5.5.1 already authenticated");
  if (!tls || !tls->active()) {
    log::line("refused AUTH from {}: not encrypted", client_.name());
    return error("538 5.7.11 encryption required for authentication: send STARTTLS first");
  }
  auto words = split(trim(arg), ' ');
  if (words.empty() || words.size() > 2 || words[0].empty())
    return error("501 5.5.4 syntax: AUTH mechanism [initial-response]");
  std::string user;
  int answer = 0;
  if (!auth_exchange(words[0], words.size() == 2 ? words[1] : std::string(), user, answer)) return false;
  secret::wipe(words.back());
  switch (answer) {
    case 0: return true;  // answered already (cancelled, malformed)
    case login::reply_authenticated:
      login_ = user;
      log::line("authenticated {} from {}", log::printable(user, 64), client_.name());
      return reply("235 2.7.0 authentication successful");
    case login::reply_refused: return error("535 5.7.8 authentication credentials invalid");
    case login::reply_too_many:
      refuse("421 4.7.0 " + policy_.me + " too many failed logins; closing the connection", nullptr,
             "too many failed logins");
      return false;
    case login::reply_temp: return reply("454 4.7.0 temporary authentication failure; try again later");
    default:
      refuse("421 4.3.0 " + policy_.me + " the login service failed; closing the connection", nullptr,
             "no answer from the login parent");
      return false;
  }
}

bool Session::auth_exchange(const std::string& mechanism, const std::string& initial, std::string& user,
                            int& answer) {
  answer = 0;
  auto mech = sasl::mechanism(mechanism);
  if (!mech) {
    return error("504 5.5.4 unrecognised authentication type: PLAIN and LOGIN are offered");
  }
  sasl::Exchange exchange;
  auto step = exchange.start(*mech, initial.empty() ? std::nullopt : std::optional<std::string_view>(initial));
  secret::String line;
  while (step.kind == sasl::Exchange::Step::Kind::challenge) {
    reply("334 " + step.text);
    switch (io_.line(line.get(), sasl::max_line + 2)) {
      case NetIO::Read::line: break;
      case NetIO::Read::partial:
        refuse("500 5.5.6 authentication exchange line is too long; closing the connection", nullptr,
               "an AUTH line longer than " + std::to_string(sasl::max_line) + " bytes");
        return false;
      case NetIO::Read::timeout:
        refuse("421 4.4.2 " + policy_.me + " timeout; closing the connection", nullptr, "timeout");
        return false;
      case NetIO::Read::eof:
      case NetIO::Read::error: return false;
    }
    step = exchange.next(chomp(line.get()));
    secret::wipe(line.get());
  }
  switch (step.kind) {
    case sasl::Exchange::Step::Kind::cancelled:
      return error("501 5.7.0 authentication cancelled");
    case sasl::Exchange::Step::Kind::failed:
      log::line("AUTH from {} failed: {}", client_.name(), step.text);
      return error("501 5.5.2 cannot decode the response");
    default: break;
  }
  secret::String request(login::encode_request(exchange.user(), exchange.password(), ""));
  answer = check_login(request.get());
  user = exchange.user();
  return true;
}

}  // namespace postern::smtpd
