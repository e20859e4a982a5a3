// tcp_rules: tcprules databases (tcp_rules.hpp).
#include "mail/tcp_rules.hpp"

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "base/cdb.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"

namespace postern::tcp_rules {

bool apply(const std::string& path, const std::string& ip) {
  CdbReader db;
  if (!db.open(path)) {
    if (errno != ENOENT) log::die(status::temporary, "unable to open " + path);
    log::line("{} does not exist: no rules apply", path);
    return true;  // nobody gets RELAYCLIENT: the safe side
  }
  std::string key = ip;
  for (;;) {
    if (auto v = db.find(key)) {
      if (!v->empty() && (*v)[0] == 'D') return false;
      // An allow rule: "+VAR=value\0" or "-VAR\0" entries.
      std::string_view rest(*v);
      while (!rest.empty()) {
        auto nul = rest.find('\0');
        std::string item(rest.substr(0, nul));
        rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
        if (item.size() < 2) continue;
        if (item[0] == '+') {
          auto eq = item.find('=');
          if (eq != std::string::npos) ::setenv(item.substr(1, eq - 1).c_str(), item.c_str() + eq + 1, 1);
        } else if (item[0] == '-') {
          ::unsetenv(item.c_str() + 1);
        }
      }
      return true;
    }
    if (db.read_error()) log::die(status::temporary, "unable to read " + path);
    if (key.empty()) return true;
    key.pop_back();
    auto cut = key.find_last_of(".:");
    key = cut == std::string::npos ? "" : key.substr(0, cut + 1);
  }
}

}  // namespace postern::tcp_rules
