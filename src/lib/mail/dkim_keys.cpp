// dkim_keys: see dkim_keys.hpp.
#include "mail/dkim_keys.hpp"

#include <sstream>

#include "base/strings.hpp"
#include "mail/conf.hpp"

namespace postern::dkim_keys {

bool valid_domain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::optional<std::vector<Key>> for_domain(const std::vector<std::string>& lines, std::string_view from_domain,
                                           std::string& why) {
  std::string from = lower(from_domain);
  std::vector<Key> keys;
  for (auto& line : lines) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(w);
    if (fields.size() != 2) {
      why = "control/dkimkeys: \"" + line + "\" is not \"domain selector\"";
      return std::nullopt;
    }
    std::string domain = lower(fields[0]);
    bool subdomains = domain.starts_with(".");
    if (subdomains) domain.erase(0, 1);
    std::string selector = lower(fields[1]);
    if (!valid_domain(domain) || !valid_domain(selector)) {
      why = "control/dkimkeys: \"" + line + "\" has a domain or selector that is not a valid name";
      return std::nullopt;
    }
    bool matches = subdomains ? from.size() > domain.size() + 1 && from.ends_with("." + domain) : from == domain;
    if (matches) keys.push_back({domain, selector});
  }
  return keys;
}

std::string key_path(const Key& key) {
  return conf::path("control/dkim/" + key.domain + "/" + key.selector + ".key");
}

}  // namespace postern::dkim_keys
