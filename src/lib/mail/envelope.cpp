// envelope: see envelope.hpp.
#include "mail/envelope.hpp"

#include "mail/address.hpp"

namespace postern {

std::string encode_envelope(const Envelope& e) {
  std::string out = "F" + e.sender;
  out += '\0';
  if (!e.hold.empty()) {
    out += 'H';
    out += e.hold;
    out += '\0';
  }
  for (auto& r : e.recipients) {
    out += 'T';
    out += r;
    out += '\0';
  }
  out += '\0';
  return out;
}

std::optional<Envelope> decode_envelope(std::string_view b) {
  Envelope e;
  if (b.empty() || b.front() != 'F') return std::nullopt;
  auto nul = b.find('\0');
  if (nul == std::string_view::npos) return std::nullopt;
  e.sender = b.substr(1, nul - 1);
  if (!valid_envelope_address(e.sender)) return std::nullopt;
  b.remove_prefix(nul + 1);
  if (!b.empty() && b.front() == 'H') {
    nul = b.find('\0');
    if (nul == std::string_view::npos || nul == 1 || nul - 1 > max_hold) return std::nullopt;
    e.hold = b.substr(1, nul - 1);
    for (unsigned char c : e.hold)
      if (c < 32 || c >= 127) return std::nullopt;
    b.remove_prefix(nul + 1);
  }
  for (;;) {
    if (b.empty()) return std::nullopt;
    if (b.front() == '\0') {
      if (b.size() != 1 || e.recipients.empty()) return std::nullopt;
      return e;
    }
    if (b.front() != 'T') return std::nullopt;
    nul = b.find('\0');
    if (nul == std::string_view::npos) return std::nullopt;
    std::string r(b.substr(1, nul - 1));
    if (r.empty() || !valid_envelope_address(r)) return std::nullopt;
    e.recipients.push_back(std::move(r));
    b.remove_prefix(nul + 1);
  }
}

}  // namespace postern
