// local_domains: which recipients are delivered on this host, by qmail's
// rules (control/locals and control/virtualdomains), and the local part
// getpw then sees. The same rules as send's classification (see send(8)),
// kept here so that smtpd can check recipients at RCPT time; send may use
// this unit later instead of its own copy.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace postern {

struct LocalDomains {
  std::string me;
  std::set<std::string> locals;                      // lowercased
  std::map<std::string, std::string> virtualdomains; // user@domain, domain or .suffix -> prefix

  // Reads control/me, locals and virtualdomains; false with why set when
  // one cannot be read or is malformed.
  bool load(std::string& why);

  // For a local recipient, the local part as getpw sees it: the local part
  // (for a domain in locals) or prefix-local (for a virtual domain),
  // lowercased. nullopt for a remote recipient. An address without a
  // domain gets me.
  std::optional<std::string> local_part(std::string_view address) const;
};

}  // namespace postern
