// address: see address.hpp.
#include "mail/address.hpp"

#include "base/strings.hpp"

namespace postern {

Address split_address(std::string_view addr) {
  auto at = addr.rfind('@');
  if (at == std::string_view::npos) return {std::string(addr), ""};
  return {std::string(addr.substr(0, at)), std::string(addr.substr(at + 1))};
}

bool valid_envelope_address(std::string_view addr) {
  if (addr.empty()) return true;
  if (addr.size() > 1000 || has_control(addr)) return false;
  bool quoted = false;
  for (char c : addr) {
    if (c == '\t') return false;  // tabs separate fields in the queue's state files
    if (c == '"') quoted = !quoted;
    else if (!quoted && (c == ' ' || c == '\t' || c == '<' || c == '>')) return false;
  }
  return !quoted;
}

bool plain_domain_name(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.front() == '.') return false;
  for (char c : domain)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace postern
