// envelope: the qmail-queue envelope, "F" sender NUL, then "T" recipient NUL
// for each recipient, then a final NUL. queue reads it from fd 1; the queue's
// todo files hold it unchanged.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

struct Envelope {
  std::string sender;
  std::vector<std::string> recipients;
};

std::string encode_envelope(const Envelope& e);

// Parses and checks an envelope: nullopt when it is malformed (no F, no T,
// missing terminator, or an address postern does not accept).
std::optional<Envelope> decode_envelope(std::string_view bytes);

}  // namespace postern
