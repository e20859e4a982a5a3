// ldap_client: one bounded connection to an LDAP directory (OpenLDAP's
// libldap), for the lookups of the user directory (mail_directory.hpp).
//
// Every operation has a deadline (the settings' timeout, for connecting and
// for each answer), a search returns at most a few entries with at most a
// few values of bounded size each, and referrals are never chased. A
// connection that failed once is dropped and made again at the next call,
// so a restarted server is found again; but for retry_after seconds after
// a server could not be reached, calls fail at once with the same reason,
// so a long-lived process (lspawn's lookup) does not wait out the timeout
// for every delivery while the directory is down. Nothing here retries:
// the caller turns an error into a temporary failure.
//
// Trusts its settings (the administrator's control files). The directory's
// answers are bounded here and checked by the caller.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace postern::directory {

struct LdapSettings {
  std::string uris;      // space-separated: ldap://host[:port] ..., tried in turn
  std::string base;      // where searches start
  std::string bind_dn;   // empty: anonymous
  std::string bind_password;
  int timeout = 10;      // seconds, for connecting and for each answer
};

// One entry: its DN and the values of the attributes asked for, keyed by
// the attribute's name lowercased.
struct LdapEntry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> values;
};

// The most entries a search keeps, values an attribute keeps, and bytes a
// value may have; a search with more entries is an error (an address must
// name one entry), more values are dropped, a longer value is an error.
constexpr std::size_t max_entries = 2;
constexpr std::size_t max_values = 100;
constexpr std::size_t max_value_bytes = 4096;
constexpr std::chrono::seconds retry_after{5};

class LdapClient {
 public:
  LdapClient();
  ~LdapClient();
  LdapClient(const LdapClient&) = delete;
  LdapClient& operator=(const LdapClient&) = delete;

  // Uses these settings from now on (reconnects if they differ).
  void configure(const LdapSettings& settings);

  // Searches the subtree of base with filter; entries gets what matched (at
  // most max_entries). False with why set on any failure.
  bool search(const std::string& filter, const std::vector<std::string>& attributes,
              std::vector<LdapEntry>& entries, std::string& why);

  // Binds as dn with password on a connection of its own (the directory
  // checks the password against its hash). 1: right; 0: wrong, or no such
  // DN; -1: the directory could not be asked (why set).
  int check_password(const std::string& dn, const std::string& password, std::string& why);

 private:
  bool connect(std::string& why);
  bool open_bound(std::string& why);
  void drop();
  struct Handle;
  std::unique_ptr<Handle> handle_;
  LdapSettings settings_;
  std::chrono::steady_clock::time_point down_until_{};
  std::string down_why_;
};

// value escaped for use inside a search filter (RFC 4515), by libldap.
std::string filter_value(std::string_view value);

}  // namespace postern::directory
