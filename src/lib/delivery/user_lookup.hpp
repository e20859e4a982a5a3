// user_lookup: who receives mail for a local part (qmail-getpw's job), for
// the program getpw and for lspawn's lookup child, which runs it in-process
// as posternp (never as root).
//
// The order, as qmail admins expect: users/assign.cdb; then the user
// directory (mail_directory.hpp) when control/ldapserver names one, for the
// whole address: an account there is delivered to here as its uidNumber,
// an account whose mailHost is another host goes there (mailhost below),
// an alias goes to the alias user, whose aliasforward expands it; then the password
// database, where "joe-list-x" belongs to user joe (ext "list-x") when joe
// exists, is not uid 0 and owns his home directory; then the alias user,
// with the whole local part as the extension, so root, postmaster and
// unknown names reach ~alias/.qmail-<local> or ~alias/.qmail-default.
// In single-user mode only assign entries for the invoking uid and the alias
// home count.
//
// Trusts the instance's files and the password database; the local part
// comes from the network and is only looked up, never made a path here.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "mail/assign.hpp"

namespace postern::delivery {

// The user, or (user empty) why none could be found: always a temporary
// failure (a database that cannot be read, a malformed local part, a
// missing alias user), so the delivery is retried.
// With mailhost set (and no user), the directory says the recipient lives
// on that mailbox host: the message is to be sent there.
struct UserLookup {
  std::optional<MailUser> user;
  std::string error;
  std::string mailhost;
};

// local is lowercased here; at most 1000 bytes, no control characters.
// domain (lowercased too) is only for the directory; empty: not asked.
UserLookup find_mail_user(std::string_view local, std::string_view domain = {});

}  // namespace postern::delivery
