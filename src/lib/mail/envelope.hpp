// envelope: the qmail-queue envelope, "F" sender NUL, then "T" recipient NUL
// for each recipient, then a final NUL. queue reads it from fd 1; the queue's
// todo files hold it unchanged. postern adds one optional record after the
// sender, "H" reason NUL: the message enters the queue on hold (authcheck's
// quarantine), and send delivers nothing of it until it is released.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

struct Envelope {
  std::string sender;
  std::vector<std::string> recipients;
  std::string hold;  // why it is to be held ("" for no hold): printable, at most max_hold bytes
};

constexpr std::size_t max_hold = 200;

std::string encode_envelope(const Envelope& e);

// Parses and checks an envelope: nullopt when it is malformed (no F, no T,
// missing terminator, or an address postern does not accept).
std::optional<Envelope> decode_envelope(std::string_view bytes);

}  // namespace postern
