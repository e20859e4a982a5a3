// controls: see controls.hpp.
#include "controls.hpp"

#include <cerrno>

#include "control.hpp"
#include "conf.hpp"
#include "address.hpp"
#include "io.hpp"
#include "strings.hpp"
#include "unique.hpp"

namespace postern::send {

bool load_controls(Controls& out, std::string& why) {
  Controls c;
  auto me = control::line("me", host_name());
  auto locals = control::lines("locals");
  auto virtuals = control::lines("virtualdomains");
  auto cl = control::number("concurrencylocal", 10);
  auto cr = control::number("concurrencyremote", 20);
  auto life = control::number("queuelifetime", 604800);
  auto bmax = control::number("bouncemaxbytes", 50000);
  if (!me || !locals || !virtuals) {
    why = "unable to read control/me, locals or virtualdomains";
    return false;
  }
  if (!cl || !cr || !life || !bmax || *cl == 0 || *cr == 0) {
    why = "a number in control/concurrencylocal, concurrencyremote, queuelifetime or bouncemaxbytes is malformed";
    return false;
  }
  c.me = lower(*me);
  for (auto& l : *locals) c.locals.insert(lower(l));
  if (locals->empty()) c.locals.insert(c.me);
  for (auto& v : *virtuals) {
    auto colon = v.find(':');
    if (colon == std::string::npos) {
      why = "control/virtualdomains: a line without a colon: " + v;
      return false;
    }
    std::string prefix = v.substr(colon + 1);
    if (!valid_envelope_address(prefix) || prefix.find('@') != std::string::npos || prefix.size() > 200) {
      why = "control/virtualdomains: a prefix that is not a valid local part: " + v;
      return false;
    }
    c.virtualdomains.emplace(lower(v.substr(0, colon)), prefix);
  }
  c.concurrency_local = std::min(*cl, 1000ul);
  c.concurrency_remote = std::min(*cr, 1000ul);
  c.queue_lifetime = static_cast<std::time_t>(*life);
  c.bounce_max_bytes = *bmax;

  // doublebounceto: as qmail, a file whose first line (after comments) is
  // empty, or that holds no line at all, discards double bounces.
  errno = 0;
  auto dbt_text = read_file(conf::path("control/doublebounceto"), 4096);
  if (dbt_text) {
    for (auto& l : split(*dbt_text, '\n')) {
      if (!l.empty() && l[0] == '#') continue;
      c.double_bounce_to = std::string(trim(l));
      break;
    }
  } else if (errno == ENOENT) {
    c.double_bounce_to = "postmaster";
  } else {
    why = "unable to read control/doublebounceto";
    return false;
  }
  auto dbh = control::line("doublebouncehost", c.me);
  auto bf = control::line("bouncefrom", "MAILER-DAEMON");
  auto bh = control::line("bouncehost", c.me);
  if (!dbh || !bf || !bh) {
    why = "unable to read control/doublebouncehost, bouncefrom or bouncehost";
    return false;
  }
  if (!c.double_bounce_to.empty() && c.double_bounce_to.find('@') == std::string::npos)
    c.double_bounce_to += "@" + *dbh;
  c.bounce_from = *bf;
  c.bounce_host = *bh;
  out = std::move(c);
  return true;
}

Route classify(const Controls& c, const std::string& address) {
  Address a = split_address(address);
  if (a.domain.empty()) a.domain = c.me;
  std::string domain = lower(a.domain);
  std::string full = a.local + "@" + domain;
  if (c.locals.count(domain)) return {'L', full};
  auto virtual_route = [&](const std::string& key, Route& out) {
    auto it = c.virtualdomains.find(key);
    if (it == c.virtualdomains.end()) return false;
    out = it->second.empty() ? Route{'R', full} : Route{'L', it->second + "-" + a.local + "@" + domain};
    return true;
  };
  Route r;
  if (virtual_route(lower(full), r) || virtual_route(domain, r)) return r;
  for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1))
    if (virtual_route(domain.substr(dot), r)) return r;
  return {'R', full};
}

}  // namespace postern::send
