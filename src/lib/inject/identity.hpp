// identity: who is sending, as inject works it out from the environment
// and the password file, the way qmail-inject does. The environment belongs
// to the invoking user, who may say anything about themselves: the result
// only names the sender of their own message, and inject checks the
// addresses it makes before they reach the queue.
#pragma once
#include <optional>
#include <string>

#include "address_completion.hpp"

namespace postern::inject {

struct Identity {
  std::string from;       // address for a From: line: user@host, completed
  std::string sender;     // default envelope sender (QMAILSUSER/QMAILSHOST may differ)
  std::string full_name;  // may be empty
};

// user: QMAILUSER, MAILUSER, USER, LOGNAME, else the real uid's login name.
// host: QMAILHOST, MAILHOST, else defaulthost. The envelope sender uses
// QMAILSUSER and QMAILSHOST when they are set. full name: full_name_option
// (-F) when given, else QMAILNAME, MAILNAME, NAME, else the GECOS field.
// nullopt when no user name can be found at all.
std::optional<Identity> find_identity(const CompletionRules& rules,
                                      const std::optional<std::string>& full_name_option);

// A From: value: "Name <address>" with the name quoted when it needs it,
// or the bare address when the name is empty.
std::string from_line_value(const std::string& full_name, const std::string& address);

}  // namespace postern::inject
