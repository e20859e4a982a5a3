// controls: see controls.hpp.
#include "controls.hpp"

#include <cerrno>
#include <cstring>

#include "mail/control.hpp"
#include "mail/conf.hpp"
#include "mail/address.hpp"
#include "base/io.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"

namespace postern::send {

bool load_controls(Controls& out, std::string& why) {
  Controls c;
  if (!c.domains.load(why)) return false;
  auto cl = control::number("concurrencylocal", 10, why);
  if (!cl) return false;
  auto cr = control::number("concurrencyremote", 20, why);
  if (!cr) return false;
  auto life = control::number("queuelifetime", 604800, why);
  if (!life) return false;
  auto bmax = control::number("bouncemaxbytes", 50000, why);
  if (!bmax) return false;
  for (auto [name, value] : {std::pair{"concurrencylocal", *cl}, std::pair{"concurrencyremote", *cr}})
    if (value == 0) return why = std::string("control/") + name + " holds 0; it must be at least 1", false;
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
    why = std::string("unable to read control/doublebounceto: ") + std::strerror(errno);
    return false;
  }
  auto dbh = control::line("doublebouncehost", c.domains.me, why);
  if (!dbh) return false;
  auto bf = control::line("bouncefrom", "MAILER-DAEMON", why);
  if (!bf) return false;
  auto bh = control::line("bouncehost", c.domains.me, why);
  if (!bh) return false;
  if (!c.double_bounce_to.empty() && c.double_bounce_to.find('@') == std::string::npos)
    c.double_bounce_to += "@" + *dbh;
  c.bounce_from = *bf;
  c.bounce_host = *bh;
  out = std::move(c);
  return true;
}

Route classify(const Controls& c, const std::string& address) {
  if (auto local = c.domains.local_address(address)) return {'L', *local};
  Address a = split_address(address);
  return {'R', a.local + "@" + lower(a.domain)};
}

}  // namespace postern::send
