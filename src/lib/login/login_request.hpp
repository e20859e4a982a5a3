// login_request: what pop3d's and imapd's pre-auth stages, their
// privileged parent and checkpassword share about a login: the user names
// they pass on, AUTH PLAIN / AUTHENTICATE PLAIN decoding (RFC 4616), and
// the checkpassword request on descriptor 3 ("user\0password\0timestamp\0",
// as qmail-popup sends it; imapd's timestamp is always empty).
//
// Everything here treats its input as hostile: lengths and characters are
// checked, nothing throws, failures come back as nullopt.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace postern::login {

constexpr std::size_t max_user = 255;
constexpr std::size_t max_password = 512;
constexpr std::size_t max_timestamp = 255;

// True when s is a user name the servers pass on: 1..255 bytes, printable,
// no spaces, no NUL.
bool valid_user(std::string_view s);

// AUTH PLAIN (RFC 4616): base64 of authzid\0authcid\0password. The authcid
// (and the authzid, when there is one) must be valid_user, the password
// not empty.
struct Plain {
  std::string authzid, authcid, password;
  ~Plain();
};
std::optional<Plain> decode_plain(std::string_view base64);

// The checkpassword request on fd 3.
struct Request {
  std::string user, password, timestamp;
  ~Request();
};
std::string encode_request(std::string_view user, std::string_view password, std::string_view timestamp);
// Exactly three NUL-terminated fields, each within its bound (user
// valid_user, password <= 512, timestamp <= 255 without control bytes),
// possibly followed by more bytes that are ignored (checkpassword's rule).
std::optional<Request> decode_request(std::string_view data);
// The encoded size of r: where the request ends in the data it came from.
std::size_t encoded_size(const Request& r);

}  // namespace postern::login
