// address_completion: see address_completion.hpp.
#include "address_completion.hpp"

#include "base/strings.hpp"

#include "mail/address.hpp"
#include "mail/control.hpp"
#include "base/unique.hpp"

namespace postern {

namespace {

// The index of the last '@' outside double quotes, or npos.
std::size_t last_unquoted_at(std::string_view addr) {
  std::size_t at = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 0; i < addr.size(); ++i) {
    char c = addr[i];
    if (c == '\\' && quoted) ++i;
    else if (c == '"') quoted = !quoted;
    else if (c == '@' && !quoted) at = i;
  }
  return at;
}

std::string complete_domain(std::string_view domain, const CompletionRules& rules) {
  if (domain.empty() || domain.front() == '[') return std::string(domain);
  if (domain.back() == '+') {
    domain.remove_suffix(1);
    if (domain.empty()) return rules.plusdomain;
    return std::string(domain) + "." + rules.plusdomain;
  }
  // A dotless name this host answers for is already complete: on a host
  // whose own name has no dot, qmail would turn "jo@vm" into "jo@vm.vm".
  std::string lowered = lower(domain);
  for (auto& name : rules.complete_names)
    if (lowered == name) return std::string(domain);
  if (domain.find('.') == std::string_view::npos && !rules.defaultdomain.empty())
    return std::string(domain) + "." + rules.defaultdomain;
  return std::string(domain);
}

}  // namespace

std::string complete_address(std::string_view addr, const CompletionRules& rules) {
  if (addr.empty() || addr == double_bounce_sender) return std::string(addr);
  std::size_t at = last_unquoted_at(addr);
  std::string local(addr.substr(0, at));
  std::string_view domain = at == std::string_view::npos ? "" : addr.substr(at + 1);
  std::string full = complete_domain(domain.empty() ? rules.defaulthost : domain, rules);
  if (full.empty()) return local;
  return local + "@" + full;
}

std::optional<CompletionRules> load_completion_rules() {
  auto me = control::line("me", host_name());
  if (!me) return std::nullopt;
  CompletionRules r;
  auto host = control::line("defaulthost", *me);
  auto domain = control::line("defaultdomain", *me);
  auto plus = control::line("plusdomain", *me);
  if (!host || !domain || !plus) return std::nullopt;
  r.defaulthost = *host;
  r.defaultdomain = *domain;
  r.plusdomain = *plus;
  auto locals = control::lines("locals");
  if (!locals) return std::nullopt;
  r.complete_names.push_back(lower(*me));
  for (auto& l : *locals) r.complete_names.push_back(lower(l));
  return r;
}

}  // namespace postern
