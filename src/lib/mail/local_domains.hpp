// local_domains: which recipients are delivered on this host, by qmail's
// rules (control/locals and control/virtualdomains), and the local part
// getpw then sees. The same rules as send's classification (see send(8)),
// shared by send (which recipients go to lspawn, and as what address) and
// smtpd (which recipients to check at RCPT time).
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

  // For a local recipient, the address local delivery is for: local@domain
  // for a domain in locals, prefix-local@domain for a virtual domain (the
  // local part as written, the domain lowercased; the most specific
  // virtualdomains entry wins: user@domain, domain, the longest .suffix; an
  // empty prefix makes an exception). nullopt for a remote recipient. An
  // address without a domain gets me.
  std::optional<std::string> local_address(std::string_view address) const;

  // The local part of local_address, lowercased: what getpw looks up.
  std::optional<std::string> local_part(std::string_view address) const;
};

}  // namespace postern
