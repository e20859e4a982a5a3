// author_domain: the domain of a message's author, as DKIM signers and
// DMARC (RFC 7489 3.1, "RFC5322.From domain") take it: the one address in
// the one From: field. Input is an untrusted message's header text (lines
// ending in "\n"; a body after it is ignored).
#pragma once
#include <string>
#include <string_view>

namespace postern {

// The From: address's domain in lower case; "" when there is no From:
// field, more than one, a field with no address or several, or an address
// without a domain. DMARC treats those as failures of their own, and no
// signer should guess among several authors.
std::string author_domain(std::string_view head);

}  // namespace postern
