// mail_directory: the queries and checks of mail_directory.hpp. Settings
// come from control/ldapserver (one URI a line), ldapbasedn, ldaplogin,
// ldappassword, ldaptimeout (10) and ldapcachetime (60), read again at
// every lookup; the connection is kept while they stay the same.
#include "directory/mail_directory.hpp"

#include <algorithm>

#include "base/strings.hpp"
#include "base/unique.hpp"
#include "mail/address.hpp"
#include "mail/control.hpp"

namespace postern::directory {

namespace {

// The most cached answers: past it the cache starts again empty.
constexpr std::size_t max_cached = 10000;
// The longest an answer "no such entry" is kept.
constexpr std::chrono::seconds negative_cache_time{10};
// How many '-' a lookup cuts at, at most (each cut is one search).
constexpr int max_cuts = 4;

const std::string* first(const LdapEntry& e, const std::string& name) {
  auto it = e.values.find(name);
  return it == e.values.end() || it->second.empty() ? nullptr : &it->second.front();
}

// A forwarding address as an envelope address: at most 1000 bytes, no
// control bytes, one '@' with a domain.
bool usable_forward(const std::string& a) {
  if (!valid_envelope_address(a) || a.empty()) return false;
  return !split_address(a).domain.empty();
}

bool plain_host(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == ':' || c == '[' || c == ']'))
      return false;
  return true;
}

}  // namespace

const std::vector<std::string>& entry_attributes() {
  static const std::vector<std::string> attrs{"uid",      "uidNumber",          "gidNumber",       "homeDirectory",
                                              "mailHost", "mailRoutingAddress", "rfc822MailMember"};
  return attrs;
}

std::optional<MailEntry> mail_entry_from(const LdapEntry& e, std::string& why) {
  MailEntry m;
  m.dn = e.dn;
  if (auto v = first(e, "uid")) m.login = *v;
  for (const char* name : {"mailroutingaddress", "rfc822mailmember"}) {
    auto it = e.values.find(name);
    if (it == e.values.end()) continue;
    for (auto& a : it->second) {
      if (!usable_forward(a)) return why = "the entry " + e.dn + " forwards to a malformed address", std::nullopt;
      m.forward.push_back(a);
    }
  }
  if (auto v = first(e, "mailhost")) {
    if (!plain_host(*v)) return why = "the entry " + e.dn + " has a malformed mailHost", std::nullopt;
    m.mailhost = lower(*v);
  }
  auto number = [&](const char* name) -> std::optional<unsigned long> {
    auto v = first(e, lower(name));
    if (!v) return std::nullopt;
    auto n = to_number(*v);
    if (!n || *n > 0x7fffffffUL) why = "the entry " + e.dn + " has a malformed " + name;
    return n && *n <= 0x7fffffffUL ? n : std::nullopt;
  };
  why.clear();
  auto uid = number("uidNumber");
  auto gid = number("gidNumber");
  if (!why.empty()) return std::nullopt;
  if (uid) m.uid = static_cast<uid_t>(*uid);
  if (gid) m.gid = static_cast<gid_t>(*gid);
  if (auto v = first(e, "homedirectory")) {
    if (v->empty() || (*v)[0] != '/' || has_control(*v) || v->find("/../") != std::string::npos ||
        v->ends_with("/.."))
      return why = "the entry " + e.dn + " has a malformed homeDirectory", std::nullopt;
    m.home = *v;
  }
  bool account = m.uid && m.gid && !m.home.empty() && !m.login.empty();
  if (!m.alias() && !account && m.mailhost.empty())
    return why = "the entry " + e.dn + " has neither an account (uid, uidNumber, gidNumber, homeDirectory), "
                 "nor a mailHost, nor a forwarding address", std::nullopt;
  return m;
}

bool MailDirectory::reload(std::string& why) {
  auto uris = control::lines("ldapserver", why);
  if (!uris) return false;
  LdapSettings s;
  for (auto& u : *uris) s.uris += (s.uris.empty() ? "" : " ") + u;
  if (s.uris.empty()) {  // no directory: nothing more to read (smtpd asks at every RCPT)
    settings_ = s;
    cache_.clear();
    return true;
  }
  auto base = control::line("ldapbasedn", "", why);
  auto dn = control::line("ldaplogin", "", why);
  auto pw = control::line("ldappassword", "", why);
  auto timeout = control::number("ldaptimeout", 10, why);
  auto cache = control::number("ldapcachetime", 60, why);
  auto me = control::line("me", host_name(), why);
  if (!base || !dn || !pw || !timeout || !cache || !me) return false;
  s.base = *base;
  s.bind_dn = *dn;
  s.bind_password = *pw;
  s.timeout = static_cast<int>(std::clamp(*timeout, 1ul, 300ul));
  if (s.uris != settings_.uris || s.base != settings_.base) cache_.clear();
  settings_ = s;
  client_.configure(s);
  cache_time_ = std::chrono::seconds(std::min(*cache, 86400ul));
  me_ = lower(*me);
  return true;
}

Found MailDirectory::find(const std::string& filter, const std::string& key, MailEntry& out, std::string& why) {
  auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.find(key); it != cache_.end() && it->second.until > now) {
    out = it->second.entry;
    return it->second.found;
  }
  std::vector<LdapEntry> entries;
  if (!client_.search(filter, entry_attributes(), entries, why)) return Found::error;
  Cached c;
  // "Not there" is kept shorter: a user just added is found soon.
  c.until = now + (entries.empty() ? std::min(cache_time_, negative_cache_time) : cache_time_);
  if (!entries.empty()) {
    auto m = mail_entry_from(entries.front(), why);
    if (!m) return Found::error;
    c.found = Found::yes;
    c.entry = std::move(*m);
  }
  if (cache_time_.count() > 0) {
    if (cache_.size() >= max_cached) cache_.clear();
    cache_[key] = c;
  }
  out = c.entry;
  return c.found;
}

Found MailDirectory::find_recipient(std::string_view local_given, std::string_view domain_given, MailEntry& out,
                                    std::string& ext, std::string& why) {
  std::string local = lower(local_given);
  std::string domain = lower(domain_given);
  std::string name = local;
  for (int cuts = 0;; ++cuts) {
    std::string address = filter_value(name + "@" + domain);
    if (address.empty()) return why = "unable to escape an address for LDAP", Found::error;
    std::string filter = "(|(mail=" + address + ")(mailLocalAddress=" + address +
                         ")(&(objectClass=nisMailAlias)(cn=" + address + ")))";
    Found f = find(filter, "a" + name + "@" + domain, out, why);
    if (f != Found::no) {
      ext = name.size() < local.size() ? local.substr(name.size() + 1) : "";
      return f;
    }
    auto dash = name.rfind('-');
    if (dash == std::string::npos || dash == 0 || cuts == max_cuts) return Found::no;
    name.resize(dash);
  }
}

Found MailDirectory::find_login(std::string_view login, MailEntry& out, std::string& why) {
  if (login.empty()) return Found::no;
  std::string v = filter_value(login);
  if (v.empty()) return why = "unable to escape a login for LDAP", Found::error;
  Found f = find("(&(objectClass=posixAccount)(|(uid=" + v + ")(mail=" + v + ")))", "l" + std::string(login), out,
                 why);
  if (f == Found::yes && out.alias()) return Found::no;  // an alias never logs in
  return f;
}

int MailDirectory::check_password(const MailEntry& e, const std::string& password, std::string& why) {
  return client_.check_password(e.dn, password, why);
}

bool MailDirectory::here(const MailEntry& e) const { return e.mailhost.empty() || e.mailhost == me_; }

MailDirectory& mail_directory() {
  // Never destroyed: libldap is loaded after this is made, so at exit its
  // own finalisers would run first, and closing the connection then writes
  // into what they freed (AddressSanitizer caught it). The process's end
  // closes the socket.
  static MailDirectory* d = new MailDirectory;
  return *d;
}

}  // namespace postern::directory
