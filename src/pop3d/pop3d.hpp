// pop3d before login: the pre-auth stage that speaks POP3 to the client
// until a login succeeds (preauth.cpp), and what it makes of AUTH PLAIN
// (login/sasl_plain.hpp). The privileged parent that runs the password check is
// login::parent (login_parent.hpp). See pop3d(8).
#pragma once
#include <optional>
#include <string>

#include "base/tls_channel.hpp"

namespace pop3d {

struct Config {
  std::string me;              // the host name in the greeting
  int timeout = 600;           // seconds of idle time before autologout
  // Logins may go without TLS: the client is on this host (loopback) or
  // control/plaintextlogin allows it. Otherwise USER, PASS, APOP and AUTH
  // wait for STLS (Dovecot's disable_plaintext_auth).
  bool plaintext_ok = false;
  // The tlsd in front of pop3d (tlsd(8)), when there is one.
  std::optional<postern::tls::Channel> tls;
};

// The pre-auth stage, already unprivileged. Talks to the client on 0/1 and
// to the parent on fd. Never returns.
[[noreturn]] void preauth(Config cfg, int fd);


}  // namespace pop3d
