// imap_utf7: IMAP's modified UTF-7 (RFC 3501 section 5.1.3), the form
// mailbox names take on the wire and, as Courier and Dovecot store them,
// in Maildir++ folder names on disk (".Entw&APw-rfe").
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace postern::imap {

// UTF-8 to modified UTF-7. nullopt for input that is not valid UTF-8.
std::optional<std::string> utf7_encode(std::string_view utf8);
// Modified UTF-7 to UTF-8. nullopt for anything not in canonical modified
// UTF-7 (printable ASCII, "&-" for '&', base64 runs of UTF-16 that are
// not empty, not padded, and not plain ASCII in disguise).
std::optional<std::string> utf7_decode(std::string_view mutf7);
// True when s is valid modified UTF-7 (what a client must send).
inline bool utf7_valid(std::string_view s) { return utf7_decode(s).has_value(); }

}  // namespace postern::imap
