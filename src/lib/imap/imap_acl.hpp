// imap_acl: access control lists of IMAP folders (RFC 4314), kept in each
// folder's `dovecot-acl` file in the format of Dovecot's vfile backend, so
// a Dovecot with its acl plugin reads the same rights:
//   <identifier> <rights>        one entry a line
// identifiers "owner", "anyone", "authenticated", "user=NAME",
// "group=NAME", each optionally prefixed by '-' for negative rights, and
// rights the letters of RFC 4314 (lrswipkxtea). A user's rights on a
// folder are the union of the entries that name them (their user, a
// group they are in, anyone, authenticated, owner when they own it) less
// the union of the negative entries that name them. A folder without an
// owner entry gives its owner every right.
//
// On the wire (GETACL, SETACL) the identifiers are "anyone",
// "authenticated", a login name, "$group" (Dovecot's spelling; Cyrus's
// "group:NAME" is read too), each with '-' for negative; the obsolete
// rights "c" (k and x) and "d" (t and e) are read, and written back
// whenever all of their parts are there.
//
// Pure functions of bytes plus the file's read and write (under Dovecot's
// dot-lock, dovecot-acl.lock); trusts nothing in the file or the wire.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

using Rights = std::uint16_t;  // one bit a letter of all_rights
inline constexpr std::string_view all_rights = "lrswipkxtea";
inline constexpr Rights every_right = (1u << 11) - 1;

Rights right(char letter);  // 0 for a letter that is no right
inline bool has_right(Rights r, char letter) { return (r & right(letter)) != 0; }

// "lrs", "lrswipcda": nothing when a letter is not a right.
std::optional<Rights> parse_rights(std::string_view s);
// In all_rights' order, then "c" and "d" when all of their parts are in.
std::string rights_text(Rights r);

struct AclEntry {
  std::string id;  // as in the file: "owner", "anyone", "authenticated", "user=bob", "group=staff"
  bool negative = false;
  Rights rights = 0;
};

// The lines of dovecot-acl that can be read; the others are skipped.
std::vector<AclEntry> parse_acl(std::string_view text);
std::string format_acl(const std::vector<AclEntry>& acl);

// The wire identifier as the file's ("bob" -> "user=bob", "$staff" ->
// "group=staff"), with its '-'; nothing when it cannot be one.
std::optional<AclEntry> entry_from_wire(std::string_view id);
// The file's identifier as the wire writes it.
std::string entry_to_wire(const AclEntry& e);

// Who asks: a login name and the groups it is in.
struct Identity {
  std::string user;
  std::vector<std::string> groups;
  bool owner = false;  // the folder's owner
};
Rights rights_for(const std::vector<AclEntry>& acl, const Identity& who);

// A folder directory's ACL (an empty list when it has no file) and its
// rewrite under the dot-lock; false with errno when it could not.
std::vector<AclEntry> read_acl(const std::string& dir);
bool write_acl(const std::string& dir, const std::vector<AclEntry>& acl);

// The groups of a login (the password and group databases).
std::vector<std::string> groups_of(const std::string& user);

}  // namespace postern::imap
