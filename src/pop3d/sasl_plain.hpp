// What pop3d's pre-auth stage makes of an AUTH PLAIN response
// (RFC 4616, RFC 5034): the client's bytes, untrusted, in; a
// verdict and, for a login, the user and password out. Kept apart from
// the session so the fuzz target (tests/fuzz/targets/pop3.cpp) runs
// exactly this code.
#pragma once
#include <string>
#include <string_view>

namespace pop3d {

enum class PlainVerdict {
  login,       // well formed: try user and password
  cancelled,   // "*": the client gave up (RFC 5034 4)
  malformed,   // not base64 of authzid\0authcid\0password within bounds
  other_user,  // an authzid that is not the authcid: no proxy logins
  refused,     // well formed, but a user or password no login can have
};

struct PlainLogin {
  std::string user, password;
  ~PlainLogin();
};

// response: the initial response (RFC 5034; "=" stands for an empty one)
// or the continuation line, without its CRLF.
PlainVerdict judge_plain(std::string_view response, PlainLogin& out);

}  // namespace pop3d
