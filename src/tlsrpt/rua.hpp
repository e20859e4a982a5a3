// rua: where a domain wants its TLS reports (RFC 8460 3): the TXT record
// "v=TLSRPTv1; rua=mailto:reports@example.com,https://example.com/tlsrpt"
// at _smtp._tls.DOMAIN. The record is the domain's to write and comes
// from DNS: anything may be in it, and only well-formed mailto: addresses
// and https: URLs come out.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::tlsrpt {

struct Rua {
  enum class Kind { mail, https } kind = Kind::mail;
  std::string target;  // the address (percent-decoded) or the URL
};

// The destinations of one TXT record's text, nullopt when it is not a
// TLS-RPT record (v=TLSRPTv1 first) or has no rua= field. Destinations
// that are neither a valid mailto: nor an https: URL are dropped; at most
// ten are kept.
std::optional<std::vector<Rua>> parse_rua_record(std::string_view txt);

// The destinations from all TXT records at _smtp._tls.DOMAIN: exactly one
// must be a TLS-RPT record (RFC 8460 3: several mean none).
std::vector<Rua> rua_of(const std::vector<std::string>& txts);

}  // namespace postern::tlsrpt
