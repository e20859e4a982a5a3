// spf: SPF (RFC 7208) by libspf2, which does the DNS look-ups, the record
// parsing and the macro expansion. One check is one identity: the MAIL
// FROM address, or the HELO name (as postmaster@HELO, RFC 7208 2.3). The
// client's address and the identities are untrusted and checked here
// before libspf2 sees them.
#pragma once
#include <string>

namespace postern::authcheck {

struct SpfResult {
  std::string result = "none";  // none neutral pass fail softfail temperror permerror
  std::string domain;           // the domain that was checked
  std::string comment;          // libspf2's explanation, for the header's comment
};

// The SPF result of identity (an address, or a bare domain for HELO) for a
// client at ip (IPv4 or IPv6 text), as receiver (this host's name) sees
// it. A malformed ip or identity is none.
SpfResult check_spf(const std::string& ip, const std::string& helo, const std::string& identity,
                    const std::string& receiver);

}  // namespace postern::authcheck
