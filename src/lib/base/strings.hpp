// strings: small text helpers shared by every program. ASCII only: mail
// syntax is defined over ASCII, so no locale is consulted.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

std::string lower(std::string_view s);
std::string_view trim(std::string_view s);
// Splits on every occurrence of sep; empty fields are kept.
std::vector<std::string> split(std::string_view s, char sep);
// A decimal number that fits in unsigned long, nothing else.
std::optional<unsigned long> to_number(std::string_view s);
// Removes one trailing "\n" or "\r\n".
std::string_view chomp(std::string_view s);
// True when s holds a byte below 32 other than tab, or 127.
bool has_control(std::string_view s);

// RFC 3986 percent-decoding (%XX undone); nullopt for a bad escape or a
// decoded NUL, control byte or DEL.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace postern
