// assign: qmail-users(5). users/assign maps local parts to the account that
// receives their mail; newu compiles it into users/assign.cdb and getpw
// looks addresses up there before the password database.
//
//   =local:user:uid:gid:home:dash:ext:     exactly this local part
//   +prefix:user:uid:gid:home:dash:pre:    every local part starting with
//                                          prefix; the rest follows pre
//   .                                      the end of the file
//
// In the cdb the key is "=local" or "+prefix" and the value the six fields,
// each followed by NUL.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/cdb.hpp"

namespace postern {

// Who receives mail for a local part, and which .qmail extension applies.
struct MailUser {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string dash;  // "-" or ""
  std::string ext;
};

std::string encode_mail_user(const MailUser& u);
std::optional<MailUser> decode_mail_user(std::string_view bytes);

struct AssignEntry {
  std::string key;  // "=local" or "+prefix", lowercased
  MailUser user;    // ext holds ext (=) or pre (+)
};

// Parses one line of users/assign. nullopt with why set on a bad line; the
// caller handles "." (end) and comments before calling.
std::optional<AssignEntry> parse_assign_line(std::string_view line, std::string& why);

enum class Lookup { found, absent, error };

// Looks local (already lowercased) up in an open assign.cdb: the exact entry
// first, then the longest matching wildcard prefix.
Lookup lookup_assign(CdbReader& db, std::string_view local, MailUser& out);

}  // namespace postern
