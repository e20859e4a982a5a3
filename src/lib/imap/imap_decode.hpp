// imap_decode: MIME decoding for SEARCH and FETCH BINARY: a body's
// Content-Transfer-Encoding undone (RFC 2045 base64 and quoted-printable),
// RFC 2047 encoded words in header values, and any charset made UTF-8.
// Input is untrusted message bytes: every function takes any bytes, runs
// in time linear in its input, never throws, and returns at most a small
// constant times the input's size (charset conversion may grow it 4x).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace postern::imap {

// The body with its Content-Transfer-Encoding undone. base64: libsodium's
// decoder over the alphabet's characters only, so line breaks and junk are
// ignored as RFC 2045 section 6.8 says, and decoding stops at the first
// '='. quoted-printable: "=XX" (either case), soft line breaks, trailing
// white space of a line dropped; a broken "=" is kept as it is. 7bit, 8bit,
// binary and an empty encoding: unchanged. nullopt: an encoding this does
// not know (BINARY's UNKNOWN-CTE, RFC 3516).
std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding);

// A header value with its RFC 2047 encoded words ("=?charset?B|Q?...?=")
// decoded and made UTF-8, the white space between two adjacent encoded
// words dropped (RFC 2047 section 6.2). A word that cannot be decoded is
// left as written. The rest of the value is unchanged (8-bit bytes
// included).
std::string decode_header_words(std::string_view value);

// text in charset (a MIME charset name, any case; an RFC 2231 language
// suffix "*en" ignored) as UTF-8, through iconv. A byte sequence invalid in
// the charset becomes U+FFFD. An unknown charset: text unchanged.
std::string to_utf8(std::string_view text, std::string_view charset);

// True when iconv knows charset (for SEARCH CHARSET's BADCHARSET).
bool charset_known(std::string_view charset);

}  // namespace postern::imap
