// senders: which addresses an authenticated login may send as, for
// submission (smtpd.hpp, SenderLogins). control/senderlogins is written by
// the administrator and trusted; the login and addresses come from the
// client (the login already proved by checkpassword) and are only
// compared. Lines:
//
//   login: address @domain ...
//
// An address matches itself, "@domain" every address at that domain;
// both without regard to case. Several lines for one login add up.
#include <pwd.h>

#include <cerrno>

#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/control.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

bool SenderLogins::load(std::string& why) {
  auto lines = control::lines("senderlogins", why);
  if (!lines) return false;
  for (auto& line : *lines) {
    auto colon = line.find(':');
    std::string login(trim(std::string_view(line).substr(0, colon)));
    if (colon == std::string::npos || login.empty())
      return why = "control/senderlogins: a line without \"login:\": " + line, false;
    auto& patterns = entries_[lower(login)];
    for (auto& word : split(std::string_view(line).substr(colon + 1), ' ')) {
      std::string w(trim(word));
      if (w.empty()) continue;
      if (w.find('@') == std::string::npos)
        return why = "control/senderlogins: not an address or @domain: " + w, false;
      patterns.push_back(lower(w));
    }
  }
  return domains_.load(why);
}

bool SenderLogins::owns(const std::string& login, const std::string& address) const {
  std::string l = lower(login), a = lower(address);
  Address parts = split_address(a);
  if (parts.domain.empty()) return false;
  if (auto e = entries_.find(l); e != entries_.end()) {
    for (auto& p : e->second)
      if (p == a || (p.front() == '@' && p.substr(1) == parts.domain)) return true;
    return false;
  }
  auto delivered_to = domains_.local_part(a);  // what getpw looks up
  if (!delivered_to) return false;              // not a local domain
  if (auto at = l.rfind('@'); at != std::string::npos) {
    // A login that is an address owns it and its extensions, at its own
    // domain only.
    std::string name = l.substr(0, at);
    return l.substr(at + 1) == parts.domain &&
           (parts.local == name || (parts.local.size() > name.size() + 1 &&
                                    parts.local.compare(0, name.size(), name) == 0 && parts.local[name.size()] == '-'));
  }
  // Otherwise a login owns the addresses delivered to it: login@ and
  // login-ext@ a domain in locals; at a virtual domain (example.org:vuser)
  // every address belongs to the domain's owner (vuser), never to a login
  // that happens to share the local part. login-ext is not login's when a
  // user of that whole name exists.
  const std::string& name = *delivered_to;
  if (name == l) return true;
  if (name.size() <= l.size() + 1 || name.compare(0, l.size(), l) != 0 || name[l.size()] != '-') return false;
  return ::getpwnam(name.c_str()) == nullptr;
}

}  // namespace postern::smtpd
