// recipients: the database of local parts that exist, control/recipients.cdb,
// which newrcpt(8) compiles (as root, from users/assign, the password
// database, the users' and the alias user's .qmail files) and smtpd reads
// (as posternd, which may read none of those) to refuse unknown local
// recipients at RCPT time. See newrcpt(8).
//
// Keys, with empty values:
//   "=local"   exactly this local part exists
//   "+prefix"  every local part that starts with prefix exists ("+" alone:
//              every local part, from the alias user's .qmail-default)
// Local parts are lowercased, as getpw looks them up.
//
// An account added to the password database after newrcpt last ran is not
// in the database yet: lookup() then asks the password database itself
// (world-readable) for the plain local part, so that a new user gets mail
// at once; the account's extensions wait for newrcpt (smtpd may not read
// the account's .qmail files).
#pragma once
#include <pwd.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/cdb.hpp"

namespace postern::recipients {

enum class Known { yes, no, error };

// Looks a lowercased local part up: the exact key, then every prefix, then
// (multi-user, when the password file is newer than control/recipients.cdb)
// the password database.
Known lookup(CdbReader& db, std::string_view local);

// newrcpt's rule for an account of the password database: not root, a
// lowercase name, and a home it owns.
bool account_receives(const struct passwd& pw);

// The keys a .qmail file stands for. The file is named ".qmail" + dash +
// name in the home of an account that receives the local parts
// local_prefix + rest, whose extension is ext_prefix + rest (getpw's
// answer). name is as found in the directory: ':' stands for '.', and
// "default" and "...-default" are catch-alls. Appends to keys.
void keys_for_file(std::string_view local_prefix, std::string_view ext_prefix, std::string_view name,
                   std::vector<std::string>& keys);

}  // namespace postern::recipients
