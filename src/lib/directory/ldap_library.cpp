// ldap_library: libldap's functions for ldap_library.hpp, found once. A
// failure is kept (with its reason) so each later call fails at once the
// same way.
#include "directory/ldap_library.hpp"

#include "base/shared_library.hpp"

namespace postern::directory {

const LdapLibrary* ldap_library(std::string& why) {
  static LdapLibrary lib;
  static std::string failure;
  static bool tried = false;
  if (tried) {
    if (!failure.empty()) why = failure;
    return failure.empty() ? &lib : nullptr;
  }
  tried = true;
  void* h = open_shared_library({"libldap.so.2", "libldap-2.5.so.0"}, "OpenLDAP's libldap", failure);
  if (!h) {
    why = failure;
    return nullptr;
  }
  auto find = [h](const char* name, auto& out) { return find_symbol(h, name, out); };
  bool ok = find("ldap_initialize", lib.initialize) && find("ldap_set_option", lib.set_option) &&
            find("ldap_sasl_bind_s", lib.sasl_bind_s) && find("ldap_unbind_ext_s", lib.unbind_ext_s) &&
            find("ldap_search_ext_s", lib.search_ext_s) && find("ldap_first_entry", lib.first_entry) &&
            find("ldap_next_entry", lib.next_entry) && find("ldap_get_dn", lib.get_dn) &&
            find("ldap_memfree", lib.memfree) && find("ldap_first_attribute", lib.first_attribute) &&
            find("ldap_next_attribute", lib.next_attribute) && find("ldap_get_values_len", lib.get_values_len) &&
            find("ldap_value_free_len", lib.value_free_len) && find("ldap_msgfree", lib.msgfree) &&
            find("ldap_err2string", lib.err2string) &&
            find("ldap_bv2escaped_filter_value", lib.bv2escaped_filter_value) &&
            find("ber_free", lib.ber_free) && find("ber_memfree", lib.ber_memfree);
  if (!ok) {
    failure = "OpenLDAP's libldap lacks a function postern uses";
    why = failure;
    return nullptr;
  }
  return &lib;
}

}  // namespace postern::directory
