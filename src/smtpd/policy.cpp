// policy: the control files smtpd reads when a connection starts, with
// qmail-smtpd's names and meanings, and the decisions they make.
#include <cerrno>
#include <cstring>

#include "mail/address.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/over_quota.hpp"
#include "directory/mail_directory.hpp"
#include "mail/recipients.hpp"
#include "smtpd.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"

namespace postern::smtpd {

bool Policy::load(std::string& why, bool local) {
  auto m = control::line("me", host_name(), why);
  if (!m) return false;
  me = *m;
  auto g = control::line("smtpgreeting", me, why);
  if (!g) return false;
  auto db = control::number("databytes", 52428800, why);
  if (!db) return false;
  auto t = control::number("timeoutsmtpd", 1200, why);
  if (!t) return false;
  auto mr = control::number("maxrcpt", 1000, why);
  if (!mr) return false;
  auto bad = control::lines("badmailfrom", why);
  if (!bad) return false;
  auto hosts = control::lines("rcpthosts", why);
  if (!hosts) return false;
  auto relays = control::lines("ldaprcpthosts", why);
  if (!relays) return false;
  for (auto& r : *relays) directory_relays_.insert(lower(r));
  greeting = *g;
  databytes = *db;
  timeout = *t == 0 ? 1200 : *t;
  max_rcpt = *mr == 0 ? 1000 : *mr;
  for (auto& b : *bad) badmailfrom_.insert(lower(b));
  for (auto& h : *hosts) rcpthosts_.insert(lower(h));
  if (more_.open(conf::path("control/morercpthosts.cdb"))) {
    have_more_ = true;
  } else if (errno != ENOENT) {
    return why = std::string("unable to open control/morercpthosts.cdb: ") + std::strerror(errno), false;
  }
  // A local caller (sendmail -bs) may not read the database; it could
  // inject to any address anyway, and an unknown one bounces to it, so it
  // goes unchecked then.
  if (recipients_.open(conf::path("control/recipients.cdb"))) {
    have_recipients_ = true;
  } else if (errno != ENOENT && !(local && errno == EACCES)) {
    return why = std::string("unable to open control/recipients.cdb: ") + std::strerror(errno), false;
  }
  // The directory's settings once a connection, not at every RCPT; when
  // they cannot be read, only recipients it would be asked about fail.
  std::string unread;
  if (!directory::mail_directory().reload(unread)) directory_error_ = unread;
  return domains_.load(why);
}

bool Policy::bad_sender(const std::string& address) const {
  if (badmailfrom_.empty() || address.empty()) return false;
  std::string a = lower(address);
  if (badmailfrom_.count(a)) return true;
  auto at = a.rfind('@');
  return at != std::string::npos && badmailfrom_.count(a.substr(at));
}

// qmail's rules: the domain itself, or an entry ".example.org" for any
// name below example.org; in morercpthosts.cdb the same keys.
bool Policy::relay_allowed(const std::string& address) {
  Address a = split_address(address);
  if (a.domain.empty()) return false;
  std::string d = lower(a.domain);
  if (!d.empty() && d.back() == '.') d.pop_back();
  auto listed = [&](const std::string& key) {
    if (rcpthosts_.count(key)) return true;
    return have_more_ && more_.find(key).has_value();
  };
  if (listed(d)) return true;
  for (auto dot = d.find('.'); dot != std::string::npos; dot = d.find('.', dot + 1))
    if (listed(d.substr(dot))) return true;
  return false;
}

namespace {

// The directory's answer for local@domain (its settings read by
// Policy::load, or why they could not be: settings_error): nullopt when
// none is configured; error with why set.
std::optional<directory::Found> ask_directory(std::string_view local, std::string_view domain,
                                              const std::string& settings_error, std::string& why) {
  if (!settings_error.empty()) return why = settings_error, directory::Found::error;
  auto& dir = directory::mail_directory();
  if (!dir.configured()) return std::nullopt;
  directory::MailEntry entry;
  std::string ext;
  auto found = dir.find_recipient(local, domain, entry, ext, why);
  if (found == directory::Found::error) why = "the user directory: " + why;
  return found;
}

}  // namespace

// A backup MX knows the users it takes mail for from the directory, so
// that it never accepts mail it will have to bounce (Postfix's
// relay_recipient_maps).
Policy::Rcpt Policy::check_relayed(const std::string& address, std::string& why) {
  Address a = split_address(address);
  if (!directory_relays_.count(lower(a.domain)) || lower(a.local) == "postmaster") return Rcpt::ok;
  auto found = ask_directory(a.local, a.domain, directory_error_, why);
  if (!found || *found == directory::Found::yes) return Rcpt::ok;
  if (*found == directory::Found::error) return Rcpt::error;
  why = "no such user (the user directory, control/ldaprcpthosts)";
  return Rcpt::unknown;
}

Policy::Rcpt Policy::check_local(const std::string& address, std::string& why) {
  auto local = domains_.local_part(address);
  if (!local) return check_relayed(address, why);
  if (*local == "postmaster") return Rcpt::ok;  // RFC 5321 4.5.1
  std::string user = lower(*local);
  if (over_quota::marked(user) || over_quota::marked(user.substr(0, user.find('-')))) return Rcpt::full;
  // The directory first: its users are in no file here. An outage is a
  // 451, never a 550: the sender tries again.
  auto found = ask_directory(*local, split_address(address).domain, directory_error_, why);
  if (found == directory::Found::yes) return Rcpt::ok;
  if (found == directory::Found::error) return Rcpt::error;
  if (!have_recipients_) return Rcpt::ok;       // no database: accept, as qmail
  switch (recipients::lookup(recipients_, *local)) {
    case recipients::Known::yes: return Rcpt::ok;
    case recipients::Known::no:
      why = found ? "no such user (the user directory, control/recipients.cdb)" : "no such user (control/recipients.cdb)";
      return Rcpt::unknown;
    case recipients::Known::error: why = "unable to read control/recipients.cdb"; return Rcpt::error;
  }
  return Rcpt::error;
}

}  // namespace postern::smtpd
