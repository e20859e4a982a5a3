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
#include <cerrno>

#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/control.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

bool SenderLogins::load(std::string& why) {
  auto lines = control::lines("senderlogins");
  if (!lines) return why = "unable to read control/senderlogins", false;
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
  if (!domains_.local_address(a)) return false;  // not a local domain
  std::string name = l;
  if (auto at = l.rfind('@'); at != std::string::npos) {
    // A login that is an address owns it, at its own domain only.
    if (l.substr(at + 1) != parts.domain) return false;
    name = l.substr(0, at);
  }
  return parts.local == name || (parts.local.size() > name.size() + 1 && parts.local.compare(0, name.size(), name) == 0 &&
                                 parts.local[name.size()] == '-');
}

}  // namespace postern::smtpd
