// sasl_plain: what the pre-auth stages of imapd (AUTHENTICATE PLAIN, with
// RFC 4959's SASL-IR) and pop3d (AUTH PLAIN, RFC 5034) make of a PLAIN
// response (RFC 4616): the client's bytes, untrusted, in; a verdict and,
// for a login, the user and password out. The fuzz targets imap_parse and
// pop3 run exactly this code.
#pragma once
#include <string>
#include <string_view>

namespace postern::login {

enum class PlainVerdict {
  login,       // well formed: try user and password
  cancelled,   // "*": the client gave up (RFC 3501 6.2.2)
  malformed,   // not base64 of authzid\0authcid\0password within bounds
  other_user,  // an authzid that is not the authcid: no proxy logins
  refused,     // well formed, but a user or password no login can have
};

struct PlainLogin {
  std::string user, password;
  ~PlainLogin();
};

// response: the initial response (SASL-IR; "=" stands for an empty one)
// or the continuation line, without its CRLF.
PlainVerdict judge_plain(std::string_view response, PlainLogin& out);

}  // namespace postern::login
