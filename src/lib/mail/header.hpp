// header: RFC 5322 message headers as the injection programs need them:
// splitting a message into header fields and body, finding fields by name,
// and reading (and rewriting in place) the addresses in To:, Cc:, From: and
// their kin. Input is untrusted text from users and their programs; nothing
// here assumes it is well formed, and every function returns something
// usable for any input (malformed parts are skipped, never fatal). Lines
// end in "\n" (callers convert CRLF first); CR is tolerated as white space.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::header {

struct Field {
  std::string name;  // as written, e.g. "Subject"
  // Everything after the colon, continuation lines included (with their
  // "\n" and leading white space), without the final "\n".
  std::string value;
  // The field as it goes back into a message: name ":" value "\n".
  std::string text() const { return name + ":" + value + "\n"; }
};

// True when line starts a header field: one or more printable characters
// other than ':' (optionally followed by white space, an obsolete form),
// then ':'.
bool is_field_start(std::string_view line);
// True when line continues the previous field (starts with space or tab
// and is not blank).
bool is_continuation(std::string_view line);
// True for an empty line or one of white space only: the header's end.
bool is_blank(std::string_view line);

// Parses header text (lines ending in "\n"; the last may lack it). A
// continuation line before any field, or a line that is no field, is
// dropped: callers that care decide where the header ends with
// is_field_start/is_continuation before calling this.
std::vector<Field> parse(std::string_view text);

struct Message {
  std::vector<Field> fields;
  std::string_view body;  // what follows the header (a view into the input)
};

// The header ends at the first blank line (which is consumed) or at the
// first line that can be neither a field nor a continuation (which then
// starts the body, as qmail-inject treats it).
Message split_message(std::string_view message);

// Case-insensitive look-ups by field name.
bool same_name(std::string_view a, std::string_view b);
const Field* find(const std::vector<Field>& fields, std::string_view name);
std::vector<const Field*> find_all(const std::vector<Field>& fields, std::string_view name);

// The value with folding undone (line breaks removed, the white space after
// them kept, as RFC 5322 unfolds) and outer white space trimmed.
std::string unfold(std::string_view value);

struct Mailbox {
  std::string name;     // display name (or the text of a trailing comment); may be empty
  std::string address;  // the addr-spec as written, quotes kept, comments and white space
                        // dropped; "" for "<>"
  std::string group;    // the group's display name when inside "group: ...;"
  // Where the addr-spec lies in the parsed text, for rewriting it.
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Every mailbox of an address list (To:, Cc:, From:, ...): "Name <a@b>",
// bare "a@b", "a@b (Name)", "\"Doe, J.\" <j@d>", source routes
// "<@r1,@r2:a@b>" (the route is dropped), and groups "list: a@b, c@d;"
// (flattened; an empty group yields nothing). Empty elements are skipped.
std::vector<Mailbox> parse_address_list(std::string_view value);

// The same, one mailbox at a time, in order, without building a list: for
// address lists of any size. each returns false to stop early.
void for_each_mailbox(std::string_view value, const std::function<bool(const Mailbox&)>& each);

// Returns value with each mailbox's address replaced by change(address);
// everything else (names, comments, folding) stays as written. An address
// that change() returns unchanged is left byte for byte as it was.
std::string rewrite_addresses(std::string_view value,
                              const std::function<std::string(const std::string&)>& change);

}  // namespace postern::header
