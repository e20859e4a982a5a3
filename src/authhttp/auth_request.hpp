// auth_request: the request nginx's mail proxy sends to its auth_http
// server, and the answers it understands (authhttp(8)):
//
//   GET /auth HTTP/1.0
//   Auth-Method: plain
//   Auth-User: joe%40example.com       (percent-encoded by nginx)
//   Auth-Pass: secret
//   Auth-Protocol: imap                 (imap, pop3 or smtp)
//   Auth-Login-Attempt: 1
//   Client-IP: 192.0.2.42
//
// The request comes from the network (nginx, but whoever reaches the port
// too): it is bounded (max_request bytes, max_headers lines) and every
// field is checked here; nullopt with why for anything else.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace postern::authhttp {

constexpr std::size_t max_request = 8192;
constexpr std::size_t max_headers = 64;

struct AuthRequest {
  std::string method;    // "plain" (others are refused by the caller)
  std::string user;      // decoded
  std::string password;  // decoded
  std::string protocol;  // "imap", "pop3" or "smtp"
  unsigned long attempt = 1;
  std::string client_ip;
};

// The header block ends at the first empty line; bytes holds it (and
// nothing after it need be read: nginx sends no body).
std::optional<AuthRequest> parse_auth_request(std::string_view bytes, std::string& why);

// True once bytes holds a whole header block (an empty line).
bool complete(std::string_view bytes);

// The answers: a mailbox host for the session; a refusal (wait: the seconds
// nginx waits before the client may try again; 0: nginx closes instead);
// a temporary failure.
std::string answer_ok(const std::string& server, unsigned port);
std::string answer_refused(unsigned wait);
std::string answer_temporary(std::string_view protocol);

}  // namespace postern::authhttp
