// sasl: the server side of the SASL mechanisms smtpd's AUTH offers (RFC
// 4954): PLAIN (RFC 4616), with or without an initial response, and LOGIN
// (the draft-murchison-sasl-login exchange every mail client still
// speaks). It turns the client's base64 lines into a login name and a
// password and nothing more: the password is checked by checkpassword,
// through the login parent. Trusts nothing it is given: every line is
// bounded, base64 must be canonical and whole, names are valid_user, a
// password holds no NUL; secrets are wiped when the exchange ends.
// Returns the next step: a challenge to send, done, failed or cancelled.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace postern::login::sasl {

// The longest base64 line a client may send in an exchange (a PLAIN
// response of the longest name and password fits with room to spare).
constexpr std::size_t max_line = 2048;

enum class Mech { plain, login };
// The mechanism named (case-insensitively), or nullopt.
std::optional<Mech> mechanism(std::string_view name);

// base64 (RFC 4648, with padding) of bytes, for challenges.
std::string encode(std::string_view bytes);
// The text in b64, at most max bytes once decoded and without NUL;
// nullopt for anything else (bad characters, missing padding, too long).
std::optional<std::string> decode_text(std::string_view b64, std::size_t max);

class Exchange {
 public:
  struct Step {
    enum class Kind { challenge, done, failed, cancelled };
    Kind kind;
    std::string text;  // challenge: the base64 text after "334 "; failed: why, for the log
  };
  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange();

  // Starts mechanism m; initial is the initial response of the AUTH
  // command when it had one ("=" stands for an empty one, RFC 4954 4).
  Step start(Mech m, std::optional<std::string_view> initial);
  // The client's answer to a challenge (one line, CRLF removed); "*"
  // cancels (RFC 4954 4).
  Step next(std::string_view line);

  // After done: who logs in, and the password to check.
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }

 private:
  Step plain(std::string_view response);
  Step failed(std::string why);
  enum class Wait { nothing, plain, login_user, login_password };
  Wait wait_ = Wait::nothing;
  std::string user_, password_;
};

}  // namespace postern::login::sasl
