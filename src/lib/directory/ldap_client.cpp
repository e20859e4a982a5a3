// ldap_client: ldap_client.hpp over libldap's synchronous calls, each with
// LDAP_OPT_NETWORK_TIMEOUT and LDAP_OPT_TIMEOUT set and a size limit, so
// no call waits longer than the settings' timeout. Returns entries copied
// out of libldap's memory, bounded as the header says. libldap itself is
// loaded at the first call (ldap_library.hpp says why).
#include "directory/ldap_client.hpp"

#include <sys/time.h>

#include <cstring>

#include "base/strings.hpp"
#include "directory/ldap_library.hpp"

namespace postern::directory {

struct LdapClient::Handle {
  const LdapLibrary* lib = nullptr;
  LDAP* ld = nullptr;
  ~Handle() {
    if (ld) lib->unbind_ext_s(ld, nullptr, nullptr);
  }
};

namespace {

std::string ldap_error(const LdapLibrary* lib, const char* what, int rc) {
  return std::string(what) + ": " + lib->err2string(rc);
}

// A handle to uris with the deadlines set, not yet bound; nullptr with why.
LDAP* open_handle(const LdapLibrary* lib, const LdapSettings& s, std::string& why) {
  LDAP* ld = nullptr;
  int rc = lib->initialize(&ld, s.uris.c_str());
  if (rc != LDAP_SUCCESS || !ld) {
    why = ldap_error(lib, "the LDAP server address is unusable", rc);
    return nullptr;
  }
  int version = LDAP_VERSION3;
  struct timeval tv {s.timeout, 0};
  bool ok = lib->set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
            lib->set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
            lib->set_option(ld, LDAP_OPT_TIMEOUT, &tv) == LDAP_OPT_SUCCESS &&
            lib->set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS;
  if (!ok) {
    lib->unbind_ext_s(ld, nullptr, nullptr);
    why = "unable to set the LDAP options";
    return nullptr;
  }
  return ld;
}

// A simple bind; the LDAP result code.
int bind(const LdapLibrary* lib, LDAP* ld, const std::string& dn, const std::string& password) {
  struct berval cred {};
  cred.bv_val = const_cast<char*>(password.data());
  cred.bv_len = password.size();
  return lib->sasl_bind_s(ld, dn.empty() ? nullptr : dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr,
                          nullptr);
}

// The entry's attributes and values, bounded; false when a value is too long.
bool copy_entry(const LdapLibrary* lib, LDAP* ld, LDAPMessage* e, LdapEntry& out) {
  if (char* dn = lib->get_dn(ld, e)) {
    out.dn = dn;
    lib->memfree(dn);
  }
  if (out.dn.size() > max_value_bytes) return false;
  BerElement* ber = nullptr;
  bool ok = true;
  for (char* a = lib->first_attribute(ld, e, &ber); a; a = lib->next_attribute(ld, e, ber)) {
    struct berval** vals = lib->get_values_len(ld, e, a);
    auto& list = out.values[lower(a)];
    for (std::size_t i = 0; vals && vals[i] && list.size() < max_values; ++i) {
      if (vals[i]->bv_len > max_value_bytes) ok = false;
      else list.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
    }
    if (vals) lib->value_free_len(vals);
    lib->memfree(a);
  }
  if (ber) lib->ber_free(ber, 0);
  return ok;
}

}  // namespace

LdapClient::LdapClient() = default;
LdapClient::~LdapClient() = default;

void LdapClient::configure(const LdapSettings& settings) {
  if (settings.uris != settings_.uris || settings.base != settings_.base || settings.bind_dn != settings_.bind_dn ||
      settings.bind_password != settings_.bind_password || settings.timeout != settings_.timeout) {
    drop();
    down_until_ = {};
  }
  settings_ = settings;
}

void LdapClient::drop() { handle_.reset(); }

bool LdapClient::connect(std::string& why) {
  if (handle_) return true;
  if (settings_.uris.empty()) return why = "no LDAP server is configured (control/ldapserver)", false;
  auto now = std::chrono::steady_clock::now();
  if (now < down_until_) return why = down_why_ + " (not tried again yet)", false;
  if (!open_bound(why)) {
    down_until_ = now + retry_after;
    down_why_ = why;
    return false;
  }
  return true;
}

bool LdapClient::open_bound(std::string& why) {
  const LdapLibrary* lib = ldap_library(why);
  if (!lib) return false;
  LDAP* ld = open_handle(lib, settings_, why);
  if (!ld) return false;
  auto h = std::make_unique<Handle>();
  h->lib = lib;
  h->ld = ld;
  int rc = bind(lib, ld, settings_.bind_dn, settings_.bind_password);
  if (rc != LDAP_SUCCESS) return why = ldap_error(lib, "unable to bind to the LDAP server", rc), false;
  handle_ = std::move(h);
  return true;
}

bool LdapClient::search(const std::string& filter, const std::vector<std::string>& attributes,
                        std::vector<LdapEntry>& entries, std::string& why) {
  entries.clear();
  // A connection the server closed since the last search fails once:
  // it is then made again for one more try.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!connect(why)) return false;
    const LdapLibrary* lib = handle_->lib;
    std::vector<char*> attrs;
    for (auto& a : attributes) attrs.push_back(const_cast<char*>(a.c_str()));
    attrs.push_back(nullptr);
    struct timeval tv {settings_.timeout, 0};
    LDAPMessage* res = nullptr;
    int rc = lib->search_ext_s(handle_->ld, settings_.base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                               attrs.data(), 0, nullptr, nullptr, &tv, static_cast<int>(max_entries) + 1, &res);
    if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_SIZELIMIT_EXCEEDED) {
      bool ok = rc != LDAP_SIZELIMIT_EXCEEDED;
      for (LDAPMessage* e = lib->first_entry(handle_->ld, res); e && ok; e = lib->next_entry(handle_->ld, e)) {
        if (entries.size() == max_entries) ok = false;
        else if (!copy_entry(lib, handle_->ld, e, entries.emplace_back())) ok = false;
      }
      if (res) lib->msgfree(res);
      if (!ok) {
        entries.clear();
        return why = "the LDAP search matched more than one entry, or a value was too long", false;
      }
      return true;
    }
    if (res) lib->msgfree(res);
    why = ldap_error(lib, "the LDAP search failed", rc);
    drop();
    if (rc != LDAP_SERVER_DOWN) return false;
  }
  return false;
}

int LdapClient::check_password(const std::string& dn, const std::string& password, std::string& why) {
  // An empty password would be an unauthenticated bind, which succeeds.
  if (dn.empty() || password.empty()) return 0;
  const LdapLibrary* lib = ldap_library(why);
  if (!lib) return -1;
  LDAP* ld = open_handle(lib, settings_, why);
  if (!ld) return -1;
  Handle h;
  h.lib = lib;
  h.ld = ld;
  int rc = bind(lib, ld, dn, password);
  if (rc == LDAP_SUCCESS) return 1;
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INAPPROPRIATE_AUTH ||
      rc == LDAP_UNWILLING_TO_PERFORM)
    return 0;
  why = ldap_error(lib, "unable to ask the LDAP server", rc);
  return -1;
}

std::string filter_value(std::string_view value) {
  std::string why;
  const LdapLibrary* lib = ldap_library(why);
  if (!lib) return {};
  struct berval in {};
  in.bv_val = const_cast<char*>(value.data());
  in.bv_len = value.size();
  struct berval out {};
  if (lib->bv2escaped_filter_value(&in, &out) != 0 || !out.bv_val) return {};
  std::string s(out.bv_val, out.bv_len);
  lib->ber_memfree(out.bv_val);
  return s;
}

}  // namespace postern::directory
