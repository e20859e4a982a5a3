// relay_text: the bytes the user's own session reads and writes when it
// relays to an owner's process (proxy.cpp, copy_across.cpp): literal
// markers at a line's end, a client's command made LITERAL+, a FETCH
// response's message, a tagged OK's APPENDUID. Pure functions of bytes
// that trust nothing in them (the owner's process is the owner's, who
// may bend it): sizes are bounded by the caller, nothing is read past
// the text given. Fuzzed (tests/fuzz/targets/imap_relay).
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imapd {

// "{n}" or "{n+}" (or literal8's "~{n}") ending a line: its size.
struct LiteralMark {
  std::size_t size = 0;
  bool plus = false;
};
std::optional<LiteralMark> literal_at_end(std::string_view line);

// The command with each synchronizing literal "{n}" made "{n+}" (the
// owner's process must not wait to say "+" for bytes already here), and
// the CRLF that ends it.
std::string literal_plus(const std::string& raw);

// One "* n FETCH (UID .. FLAGS (..) INTERNALDATE ".." BODY[] {n}\r\n...)".
struct Fetched {
  std::uint32_t uid = 0;
  std::vector<std::string> flags;  // \Recent left out
  std::optional<std::time_t> when;
  std::string data;
};
std::optional<Fetched> parse_fetched(const std::string& r);

// "[APPENDUID v uids]" of a tagged OK: the validity and the UID set.
std::optional<std::pair<std::string, std::string>> appenduid(const std::string& line);

}  // namespace imapd
