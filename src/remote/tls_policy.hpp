// tls_policy: how remote must protect the mail for one domain: whether it
// may, must or must not use STARTTLS, and which certificate it must see.
// The policy comes from control/tlspolicy (admin-written, trusted); the
// lookup is this one function so that later sources (DANE's TLSA records,
// MTA-STS) can be consulted here without the session knowing where a
// policy came from. Returns a policy, or a reason to defer the mail when
// the file cannot be read or has a line that does not parse.
#pragma once
#include <string>
#include <vector>

#include "dane.hpp"

namespace postern::remote {

// In order of strictness: none never starts TLS; may starts it when the
// peer offers it; dane is may, except that a host with DNSSEC-secure TLSA
// records (RFC 7672) must present a certificate they match; encrypt
// demands TLS; verify also demands a certificate that chains to a trusted
// CA and names the mail host; secure demands one that names the domain
// itself (or a name listed with match=).
enum class TlsLevel { none, may, dane, encrypt, verify, secure };

struct TlsPolicy {
  TlsLevel level = TlsLevel::may;
  // The names the certificate must carry (verify, secure); empty means the
  // level's default. ".example.org" stands for any name under example.org.
  std::vector<std::string> match;
  std::string source = "the default";  // for reasons: "control/tlspolicy line 3"
  // For one host under dane: the TLSA records the certificate must match
  // (the level is then verify), OpenSSL checking them instead of the CAs.
  std::vector<Tlsa> tlsa;
  bool dane = false;  // the host has secure TLSA records (usable or not)
};

struct TlsPolicyLookup {
  bool ok = true;
  TlsPolicy policy;
  std::string why;  // when !ok, in the words of a deferral
};

// The policy for mail to domain (lower case).
TlsPolicyLookup tls_policy_for(const std::string& domain);

// The same, from the meaningful lines of control/tlspolicy: "domain level
// [match=name:name...]", domain being a name (exactly it), ".suffix" (every
// name under it) or "." or "*" (every domain). The exact name wins, then
// the longest suffix, then the default; among equals the first line.
TlsPolicyLookup tls_policy_from_lines(const std::vector<std::string>& lines, const std::string& domain);

const char* level_name(TlsLevel level);

}  // namespace postern::remote
