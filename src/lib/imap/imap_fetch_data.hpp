// imap_fetch_data: what the newer FETCH items return for a parsed message:
// BINARY[section] (RFC 3516), PREVIEW (RFC 8970), and EMAILID/THREADID
// (RFC 8474). The message is untrusted bytes; every function takes any
// message, runs in time linear in it, and returns at most its size (a
// preview at most 200 bytes, an id a few dozen bytes).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imap/imap_message.hpp"

namespace postern::imap {

// BINARY[section] (RFC 3516), as Dovecot answers it: a single part's body
// with its Content-Transfer-Encoding undone; for the whole message, a
// multipart or an attached message, every part inside with its encoding
// undone and, where that changed it, its header's Content-Transfer-
// Encoding field made "binary" (header and boundaries as they are); HEADER,
// MIME and HEADER.FIELDS exactly as BODY[section]. decoded: some bytes
// were decoded (base64 or quoted-printable), which is answered as a
// literal8 "~{n}". error: a part's encoding is one this server cannot undo
// (NO [UNKNOWN-CTE]), or its base64 holds what base64 cannot (NO [PARSE]);
// data is then empty.
enum class BinaryError { none, unknown_cte, invalid };
struct Binary {
  std::string data;
  bool decoded = false;
  BinaryError error = BinaryError::none;
};
Binary binary_of(const Message& m, const Section& s);
// URLFETCH's BODYPARTSTRUCTURE of part p when BINARY is asked for too
// (RFC 5524, as Dovecot): each body's size and lines those of its BINARY
// form (a part that cannot be decoded keeps its stored ones).
std::string binary_structure(const Message& m, const Part& p);
// The same, nullopt for any error (the unit tests' and the fuzzer's view).
std::optional<std::string> binary_section(const Message& m, const Section& s, bool& decoded);

// PREVIEW: up to 200 bytes of the first text part, decoded and made
// UTF-8, quoted lines (">") and HTML markup left out, white space runs
// made one space. Empty when the message has no text.
std::string preview(const Message& m);

// EMAILID: "M" and 24 characters naming the message's content (its header
// and size), the same in every folder a copy lands in (RFC 8474 5.1).
std::string email_id(std::string_view header, std::uint64_t size);
// THREADID: "T" and 24 characters naming the thread's first message (the
// first References id, else In-Reply-To, else the message's own
// Message-ID); nullopt when the message has none (THREADID NIL).
std::optional<std::string> thread_id(const Message& m);

}  // namespace postern::imap
