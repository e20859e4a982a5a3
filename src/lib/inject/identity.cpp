// identity: see identity.hpp.
#include "identity.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace postern::inject {

namespace {

std::optional<std::string> first_env(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    const char* v = std::getenv(n);
    if (v && *v) return std::string(v);
  }
  return std::nullopt;
}

// Control bytes would break the header line the name goes into.
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s)
    out += (static_cast<unsigned char>(c) < 32 || c == 127) ? ' ' : c;
  return out;
}

// The BSD convention: the GECOS field's part before the first comma, with
// '&' standing for the login name capitalised.
std::string gecos_name(const passwd& pw) {
  std::string g = pw.pw_gecos ? pw.pw_gecos : "";
  g = g.substr(0, g.find(','));
  std::string login = pw.pw_name ? pw.pw_name : "";
  if (!login.empty() && login[0] >= 'a' && login[0] <= 'z')
    login[0] = static_cast<char>(login[0] - 'a' + 'A');
  std::string out;
  for (char c : g) {
    if (c == '&') out += login;
    else out += c;
  }
  return out;
}

bool atext_or_space(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 128 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view(" !#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<Identity> find_identity(const CompletionRules& rules,
                                      const std::optional<std::string>& full_name_option) {
  const passwd* pw = ::getpwuid(::getuid());
  auto user = first_env({"QMAILUSER", "MAILUSER", "USER", "LOGNAME"});
  if (!user && pw && pw->pw_name && *pw->pw_name) user = pw->pw_name;
  if (!user) return std::nullopt;
  auto host = first_env({"QMAILHOST", "MAILHOST"});
  std::string h = host ? *host : rules.defaulthost;
  std::string suser = first_env({"QMAILSUSER"}).value_or(*user);
  std::string shost = first_env({"QMAILSHOST"}).value_or(h);

  Identity id;
  id.from = complete_address(*user + "@" + h, rules);
  id.sender = complete_address(suser + "@" + shost, rules);
  if (full_name_option) id.full_name = *full_name_option;
  else if (auto n = first_env({"QMAILNAME", "MAILNAME", "NAME"})) id.full_name = *n;
  else if (pw) id.full_name = gecos_name(*pw);
  id.full_name = std::string(clean(id.full_name));
  while (!id.full_name.empty() && id.full_name.back() == ' ') id.full_name.pop_back();
  while (!id.full_name.empty() && id.full_name.front() == ' ') id.full_name.erase(0, 1);
  return id;
}

std::string from_line_value(const std::string& full_name, const std::string& address) {
  if (full_name.empty()) return address;
  bool plain = true;
  for (char c : full_name)
    if (!atext_or_space(c)) plain = false;
  if (plain) return full_name + " <" + address + ">";
  std::string q = "\"";
  for (char c : full_name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\" <" + address + ">";
}

}  // namespace postern::inject
