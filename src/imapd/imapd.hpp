// imapd before login: the pre-auth stage that speaks IMAP until LOGIN or
// AUTHENTICATE PLAIN succeeds (preauth.cpp), and what it makes of an
// AUTHENTICATE PLAIN response (login/sasl_plain.hpp). The privileged parent that
// runs the password check is login::parent (login_parent.hpp), given
// login_tag_prefix to take the tag off each request. See imapd(8).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/tls_channel.hpp"

namespace imapd {

struct Config {
  int timeout = 1800;          // seconds of idle time before autologout
  // Logins may go without TLS: the client is on this host (loopback) or
  // control/plaintextlogin allows it. Otherwise LOGINDISABLED, and LOGIN
  // and AUTHENTICATE wait for STARTTLS (Dovecot's disable_plaintext_auth).
  bool plaintext_ok = false;
  // control/literalimapd "-": LITERAL- (RFC 7888) instead of LITERAL+.
  bool literal_minus = false;
  // The tlsd in front of imapd (tlsd(8)), when there is one.
  std::optional<postern::tls::Channel> tls;
};

// The pre-auth stage, already unprivileged. Talks to the client on 0/1 and
// to the parent on fd, sending "tag\n" then the checkpassword request
// "user\0password\0\0". Never returns.
[[noreturn]] void preauth(Config cfg, int fd);

// The prefix of a request packet (login::Checker::prefix): "tag\n", a valid
// IMAP tag of at most 64 bytes, which goes to checkpassword and so to the
// mailbox stage as IMAPLOGINTAG=tag. Returns its length; nullopt when it
// is missing or malformed.
std::optional<std::size_t> login_tag_prefix(std::string_view packet, std::vector<std::string>& env);


}  // namespace imapd
