// recipients: see recipients.hpp.
#include "mail/recipients.hpp"

#include "base/strings.hpp"

namespace postern::recipients {

Known lookup(CdbReader& db, std::string_view local) {
  std::string key = "=" + std::string(local);
  if (db.find(key)) return Known::yes;
  if (db.read_error()) return Known::error;
  for (std::size_t n = local.size() + 1; n-- > 0;) {
    key = "+" + std::string(local.substr(0, n));
    if (db.find(key)) return Known::yes;
    if (db.read_error()) return Known::error;
  }
  return Known::no;
}

void keys_for_file(std::string_view local_prefix, std::string_view ext_prefix, std::string_view name,
                   std::vector<std::string>& keys) {
  std::string ext = lower(name);
  for (auto& c : ext)
    if (c == ':') c = '.';
  std::string lp(local_prefix);
  constexpr std::string_view def = "default";
  if (ext == def) {
    keys.push_back("+" + lp);
    return;
  }
  if (ext.size() > def.size() && ext.ends_with("-default")) {
    std::string stem = ext.substr(0, ext.size() - def.size());  // ends in '-'
    if (stem.starts_with(ext_prefix))
      keys.push_back("+" + lp + stem.substr(ext_prefix.size()));
    else if (ext_prefix.starts_with(stem))
      keys.push_back("+" + lp);
    return;
  }
  if (ext.starts_with(ext_prefix)) keys.push_back("=" + lp + ext.substr(ext_prefix.size()));
}

}  // namespace postern::recipients
