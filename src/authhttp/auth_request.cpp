// auth_request: parses and answers nginx's auth_http requests
// (auth_request.hpp). Header names are case-insensitive (HTTP); a header
// given twice, a line with a control byte or without a colon, or a request
// line other than GET ... HTTP/1.x is refused.
#include "auth_request.hpp"

#include <set>

#include "base/strings.hpp"

namespace postern::authhttp {

namespace {

// The next line without its CR LF (or LF); ended tells whether a LF ended it.
std::string_view next_line(std::string_view& rest, bool& ended) {
  auto end = rest.find('\n');
  ended = end != std::string_view::npos;
  std::string_view line = rest.substr(0, end);
  rest = ended ? rest.substr(end + 1) : std::string_view();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

// The header block ends with the first empty line that a LF ends, as the
// parser below reads it.
bool complete(std::string_view bytes) {
  bool ended = false;
  while (!bytes.empty())
    if (next_line(bytes, ended).empty() && ended) return true;
  return false;
}

std::optional<AuthRequest> parse_auth_request(std::string_view bytes, std::string& why) {
  if (bytes.size() > max_request) return why = "the request is too long", std::nullopt;
  std::string_view rest = bytes;
  bool lf = false;
  std::string_view first = next_line(rest, lf);
  if (!first.starts_with("GET ") || !(first.ends_with(" HTTP/1.0") || first.ends_with(" HTTP/1.1")) ||
      has_control(first))
    return why = "not a GET request", std::nullopt;
  AuthRequest r;
  std::set<std::string> seen;
  bool ended = false;
  for (std::size_t n = 0; !rest.empty(); ++n) {
    std::string_view line = next_line(rest, lf);
    if (line.empty() && lf) {
      ended = true;
      break;
    }
    if (n == max_headers) return why = "too many header lines", std::nullopt;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || has_control(line))
      return why = "a malformed header line", std::nullopt;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (!seen.insert(name).second) return why = "the header " + name + " is given twice", std::nullopt;
    auto decoded = [&](std::string& out) {
      auto d = percent_decode(value);
      if (!d) return false;
      out = std::move(*d);
      return true;
    };
    if (name == "auth-method") r.method = lower(value);
    else if (name == "auth-protocol") r.protocol = lower(value);
    else if (name == "client-ip") r.client_ip = std::string(value);
    else if (name == "auth-login-attempt") {
      auto a = to_number(value);
      if (!a) return why = "a malformed Auth-Login-Attempt", std::nullopt;
      r.attempt = *a;
    } else if (name == "auth-user" && !decoded(r.user)) {
      return why = "a malformed Auth-User", std::nullopt;
    } else if (name == "auth-pass" && !decoded(r.password)) {
      return why = "a malformed Auth-Pass", std::nullopt;
    }
  }
  if (!ended) return why = "the request does not end", std::nullopt;
  if (r.protocol != "imap" && r.protocol != "pop3" && r.protocol != "smtp")
    return why = "no Auth-Protocol of imap, pop3 or smtp", std::nullopt;
  if (r.method.empty()) return why = "no Auth-Method", std::nullopt;
  if (r.user.size() > 256 || r.password.size() > 512) return why = "the user or password is too long", std::nullopt;
  return r;
}

std::string answer_ok(const std::string& server, unsigned port) {
  return "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: " + server + "\r\nAuth-Port: " + std::to_string(port) +
         "\r\n\r\n";
}

std::string answer_refused(unsigned wait) {
  std::string out = "HTTP/1.0 200 OK\r\nAuth-Status: Invalid login or password\r\n";
  if (wait) out += "Auth-Wait: " + std::to_string(wait) + "\r\n";
  return out + "\r\n";
}

std::string answer_temporary(std::string_view protocol) {
  // Auth-Error-Code is what an SMTP client is told (nginx's own default
  // there is a 535, which would look permanent).
  std::string out = "HTTP/1.0 200 OK\r\nAuth-Status: Temporary server problem, try again later\r\n";
  if (protocol == "smtp") out += "Auth-Error-Code: 451 4.3.0\r\n";
  return out + "Auth-Wait: 5\r\n\r\n";
}

}  // namespace postern::authhttp
