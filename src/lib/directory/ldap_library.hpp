// ldap_library: OpenLDAP's libldap, loaded with dlopen the first time a
// directory is asked, never at a program's start.
//
// Why not link it: libldap brings GnuTLS, p11-kit and Cyrus SASL, whose
// start-up code runs in every process that links them. smtpd and
// checkpassword start once per connection and login, and most sites have
// no directory: linked, libldap made every smtpd start 1.3 ms of CPU
// slower (0.9 ms to 2.2 ms, measured here; DESIGN.md "A site of several
// hosts"). Loaded on demand, only a host with control/ldapserver pays.
//
// The functions are libldap's own, with its own types (decltype of the
// declarations in <ldap.h>), so a mismatch is a compile error, not a crash.
#pragma once
#include <ldap.h>

#include <string>

namespace postern::directory {

struct LdapLibrary {
  decltype(&::ldap_initialize) initialize;
  decltype(&::ldap_set_option) set_option;
  decltype(&::ldap_sasl_bind_s) sasl_bind_s;
  decltype(&::ldap_unbind_ext_s) unbind_ext_s;
  decltype(&::ldap_search_ext_s) search_ext_s;
  decltype(&::ldap_first_entry) first_entry;
  decltype(&::ldap_next_entry) next_entry;
  decltype(&::ldap_get_dn) get_dn;
  decltype(&::ldap_memfree) memfree;
  decltype(&::ldap_first_attribute) first_attribute;
  decltype(&::ldap_next_attribute) next_attribute;
  decltype(&::ldap_get_values_len) get_values_len;
  decltype(&::ldap_value_free_len) value_free_len;
  decltype(&::ldap_msgfree) msgfree;
  decltype(&::ldap_err2string) err2string;
  decltype(&::ldap_bv2escaped_filter_value) bv2escaped_filter_value;
  decltype(&::ber_free) ber_free;
  decltype(&::ber_memfree) ber_memfree;
};

// The library, loaded once (libldap.so.2, then libldap-2.5.so.0); nullptr
// with why set when it cannot be loaded or lacks a function.
const LdapLibrary* ldap_library(std::string& why);

}  // namespace postern::directory
