// mail_directory: the user directory in LDAP (postern-ldap(5)): who a mail
// address belongs to, on which mailbox host, where the password is
// checked. getpw's lookup (delivery/user_lookup), smtpd's recipient check,
// checkpassword, aliasforward and authhttp ask it, each in its own process
// and as its own user, beside the files they read anyway.
//
// The directory is used when control/ldapserver names a server. Entries
// are found by the standard schemas Debian's slapd ships:
//   an address    (|(mail=A)(mailLocalAddress=A)(&(objectClass=nisMailAlias)(cn=A)))
//   a login       (&(objectClass=posixAccount)(|(uid=L)(mail=L)))
// and read as:
//   uid, uidNumber, gidNumber, homeDirectory   the account (posixAccount)
//   mailHost                                   the mailbox host serving it
//                                              (inetLocalMailRecipient)
//   mailRoutingAddress, rfc822MailMember       an alias: where its mail goes
//                                              instead (nisMailAlias)
// An entry with a forwarding address is an alias; any other must name its
// account's numbers and home, or a mailHost that is not this host.
//
// Answers are yes, no, or error; error (no server, a timeout, a malformed
// entry) is always a temporary failure for the caller: a delivery is
// retried, an SMTP recipient gets 451, a login "try again later". Answers
// are kept control/ldapcachetime seconds (60) in the process, "no such
// entry" at most 10.
// Trusts the control files; checks every value the directory returns.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/ldap_client.hpp"

namespace postern::directory {

enum class Found { yes, no, error };

struct MailEntry {
  std::string dn;
  std::string login;  // uid
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string home;
  std::string mailhost;              // empty: any host (this one)
  std::vector<std::string> forward;  // not empty: an alias
  bool alias() const { return !forward.empty(); }
};

// The attributes read from an entry.
const std::vector<std::string>& entry_attributes();

// An entry's attributes checked and turned into a MailEntry; nullopt with
// why when a value is malformed (a uidNumber that is no number, a home
// that is not an absolute path, an entry that is neither alias nor account).
std::optional<MailEntry> mail_entry_from(const LdapEntry& e, std::string& why);

class MailDirectory {
 public:
  // Reads the control files again (each lookup calls it: a change is seen
  // at once). False with why when one cannot be read.
  bool reload(std::string& why);
  bool configured() const { return !settings_.uris.empty(); }

  // The entry of local@domain, else of the local part cut at each '-' from
  // the right (joe-list@ is joe@ with extension "list"); ext gets what was
  // cut. local and domain are lowercased here.
  Found find_recipient(std::string_view local, std::string_view domain, MailEntry& out, std::string& ext,
                       std::string& why);

  // The account that logs in as login (a uid, or an address).
  Found find_login(std::string_view login, MailEntry& out, std::string& why);

  // The directory's answer to a bind as e's DN with password: 1 right, 0
  // wrong, -1 not known (why set).
  int check_password(const MailEntry& e, const std::string& password, std::string& why);

  // True when mail for e is delivered here: no mailHost, or control/me.
  bool here(const MailEntry& e) const;

 private:
  Found find(const std::string& filter, const std::string& key, MailEntry& out, std::string& why);

  struct Cached {
    std::chrono::steady_clock::time_point until;
    Found found = Found::no;
    MailEntry entry;
  };
  LdapClient client_;
  LdapSettings settings_;
  std::string me_;
  std::chrono::seconds cache_time_{60};
  std::map<std::string, Cached> cache_;
};

// The one directory of this process (its connection and cache live as
// long as the process).
MailDirectory& mail_directory();

}  // namespace postern::directory
