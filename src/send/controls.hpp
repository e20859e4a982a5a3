// controls: the control files send reads at start and on SIGHUP, and the
// classification of a recipient as local or remote that they decide.
#pragma once
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "mail/local_domains.hpp"

namespace postern::send {

struct Controls {
  LocalDomains domains;  // me, locals, virtualdomains
  unsigned long concurrency_local = 10;
  unsigned long concurrency_remote = 20;
  std::time_t queue_lifetime = 604800;
  std::string double_bounce_to;  // empty: discard double bounces
  std::string bounce_from;       // local part of the bounce's From:
  std::string bounce_host;
  unsigned long bounce_max_bytes = 50000;
};

// Reads every control file; false with why set when one is unreadable or
// malformed (send then keeps its old settings, or refuses to start).
bool load_controls(Controls& c, std::string& why);

struct Route {
  char channel;         // 'L' or 'R'
  std::string address;  // for a virtual domain, prefix-local@domain
};

// qmail-send's rules, as LocalDomains applies them: local (with the
// virtualdomains prefix applied) or remote.
Route classify(const Controls& c, const std::string& address);

}  // namespace postern::send
