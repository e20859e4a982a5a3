// imap_envelope: FETCH ENVELOPE (RFC 3501 section 7.4.2) of a message
// header, and the two ways IMAP strings are written out, all as Dovecot
// writes them so clients and test suites that compare byte for byte see
// the same answer from either server. The header is untrusted bytes: any
// input gives a well-formed ENVELOPE (missing parts are Dovecot's
// MISSING_MAILBOX / MISSING_DOMAIN placeholders), and the address count is
// bounded.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

// One member of an IMAP address list. A group starts with a member whose
// mailbox is the group's name and whose domain is unset, and ends with a
// member that has nothing set (RFC 3501's "group syntax").
struct Address {
  std::optional<std::string> name, route, mailbox, domain;
};

// Parses an RFC 5322 address list (a header value, folding allowed).
std::vector<Address> parse_addresses(std::string_view value);
// The list as IMAP writes it: "((...)(...))", or NIL when empty.
std::string address_list_out(const std::vector<Address>& list);

// A string written quoted when it can be (a few quoted-specials escaped),
// else as a literal: CR, LF, NUL or 8-bit bytes, or many escapes.
std::string imap_string(std::string_view s);
// The same for text a person reads (Subject, display names): white space
// runs become one space, line breaks go, the ends are trimmed; any such
// change, a quoted-special or an 8-bit byte makes it a literal.
std::string imap_human(std::string_view s);

// The ENVELOPE list of a header (CRLF or LF lines; may end with the blank
// line).
std::string envelope(std::string_view header);

}  // namespace postern::imap
