// address_completion: qmail-inject's rewriting of the addresses a user
// types: "joe" becomes "joe@defaulthost", "joe@mail" becomes
// "joe@mail.defaultdomain", and "joe@mail+" becomes "joe@mail.plusdomain".
// complete_address is pure (the settings come as arguments) so it can be
// tested; load_completion_rules reads them from conf-home/control.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

struct CompletionRules {
  std::string defaulthost;    // control/defaulthost, else control/me
  std::string defaultdomain;  // control/defaultdomain, else control/me
  std::string plusdomain;     // control/plusdomain, else control/me
  // Lowercased names never extended with defaultdomain: control/me and
  // control/locals (postern's departure from qmail, for dotless host names).
  std::vector<std::string> complete_names;
};

// Completes one address. The null address "", addresses whose domain is an
// address literal ("[192.0.2.1]") and the double-bounce sender are returned
// unchanged. The '@' that splits the address is the last one outside
// double quotes, so "\"a@b\"" is a local part alone.
//
//  - no '@' (or an empty domain): "@" defaulthost is appended, and the
//    domain rules below then apply to defaulthost too;
//  - a domain ending in '+': the '+' becomes "." plusdomain ("+" alone
//    becomes plusdomain);
//  - otherwise a domain without a dot gets "." defaultdomain appended,
//    unless it is one of complete_names.
std::string complete_address(std::string_view addr, const CompletionRules& rules);

// Reads the rules from control/ (with qmail's defaults: control/me, or this
// host's name when control/me is missing). nullopt when a control file
// exists but cannot be read: the caller must fail temporarily.
std::optional<CompletionRules> load_completion_rules();

}  // namespace postern
