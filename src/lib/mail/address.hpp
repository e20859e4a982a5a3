// address: envelope addresses as postern carries them: "local@domain", or
// "" for the null sender. The domain is matched case-insensitively; local
// parts keep their case for forwarding but are folded for local look-ups.
#pragma once
#include <string>
#include <string_view>

namespace postern {

struct Address {
  std::string local;
  std::string domain;  // empty when the address has no '@'
};

// Splits at the last '@'.
Address split_address(std::string_view addr);

// An envelope address postern accepts: at most 1000 bytes, no control bytes
// or tabs, no spaces outside quotes, at most one unquoted '@'-separated domain.
// The null sender "" is valid.
bool valid_envelope_address(std::string_view addr);

// A domain name that is safe as a file name: 1 to 253 lower-case letters,
// digits, '-' and '.', not starting with '.' (so never "." or ".."). For
// the files kept per domain (remote's MTA-STS cache, TLS-RPT's records).
bool plain_domain_name(std::string_view domain);

// The double-bounce sender qmail uses: "#@[]". Never bounced to.
inline constexpr std::string_view double_bounce_sender = "#@[]";

}  // namespace postern
