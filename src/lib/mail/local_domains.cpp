// local_domains: see local_domains.hpp.
#include "mail/local_domains.hpp"

#include "mail/address.hpp"
#include "mail/control.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"

namespace postern {

bool LocalDomains::load(std::string& why) {
  auto m = control::line("me", host_name(), why);
  if (!m) return false;
  auto l = control::lines("locals", why);
  if (!l) return false;
  auto v = control::lines("virtualdomains", why);
  if (!v) return false;
  me = lower(*m);
  locals.clear();
  virtualdomains.clear();
  for (auto& d : *l) locals.insert(lower(d));
  if (l->empty()) locals.insert(me);
  for (auto& line : *v) {
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      why = "control/virtualdomains: a line without a colon: " + line;
      return false;
    }
    std::string prefix = line.substr(colon + 1);
    if (!valid_envelope_address(prefix) || prefix.find('@') != std::string::npos || prefix.size() > 200) {
      why = "control/virtualdomains: a prefix that is not a valid local part: " + line;
      return false;
    }
    virtualdomains.emplace(lower(line.substr(0, colon)), prefix);
  }
  return true;
}

std::optional<std::string> LocalDomains::local_address(std::string_view address) const {
  Address a = split_address(address);
  std::string domain = a.domain.empty() ? me : lower(a.domain);
  if (locals.count(domain)) return a.local + "@" + domain;
  auto find = [&](const std::string& key) -> std::optional<std::optional<std::string>> {
    auto it = virtualdomains.find(key);
    if (it == virtualdomains.end()) return std::nullopt;
    if (it->second.empty()) return std::optional<std::string>();  // an exception: remote
    return std::optional<std::string>(it->second + "-" + a.local + "@" + domain);
  };
  if (auto r = find(lower(a.local) + "@" + domain)) return *r;
  if (auto r = find(domain)) return *r;
  for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1))
    if (auto r = find(domain.substr(dot))) return *r;
  return std::nullopt;
}

std::optional<std::string> LocalDomains::local_part(std::string_view address) const {
  auto local = local_address(address);
  if (!local) return std::nullopt;
  return lower(split_address(*local).local);
}

}  // namespace postern
