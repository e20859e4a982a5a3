// compose: see compose.hpp.
#include "compose.hpp"

#include <algorithm>
#include <string_view>

#include "base/unique.hpp"
#include "mail/completion.hpp"

namespace postern::inject {

namespace {

constexpr std::string_view recipient_fields[] = {"To", "Cc", "Bcc"};

constexpr std::string_view address_fields[] = {
    "From",       "Sender",     "Reply-To",          "To",
    "Cc",         "Bcc",        "Resent-From",       "Resent-Sender",
    "Resent-Reply-To", "Resent-To", "Resent-Cc",     "Resent-Bcc",
    "Errors-To",  "Return-Receipt-To", "Mail-Followup-To", "Mail-Reply-To",
    "Apparently-To", "Disposition-Notification-To"};

bool named_one_of(const header::Field& f, const auto& names) {
  for (std::string_view n : names)
    if (header::same_name(f.name, n)) return true;
  return false;
}

}  // namespace

bool header_recipients(const std::vector<header::Field>& fields, const CompletionRules& rules,
                       std::size_t max, std::vector<std::string>& out) {
  bool fits = true;
  for (const auto& f : fields) {
    if (!fits) break;
    if (!named_one_of(f, recipient_fields)) continue;
    header::for_each_mailbox(f.value, [&](const header::Mailbox& m) {
      if (m.address.empty()) return true;
      if (out.size() >= max) return fits = false;
      out.push_back(complete_address(m.address, rules));
      return true;
    });
  }
  return fits;
}

void complete_address_fields(std::vector<header::Field>& fields, const CompletionRules& rules) {
  for (auto& f : fields) {
    if (!named_one_of(f, address_fields)) continue;
    f.value = header::rewrite_addresses(
        f.value, [&](const std::string& a) { return complete_address(a, rules); });
  }
}

void remove_bcc(std::vector<header::Field>& fields) {
  std::erase_if(fields, [](const header::Field& f) {
    return header::same_name(f.name, "Bcc") || header::same_name(f.name, "Resent-Bcc");
  });
}

void add_missing_fields(std::vector<header::Field>& fields, const Identity& id,
                        const CompletionRules& rules, std::time_t now) {
  std::string full = complete_address("x@" + rules.defaulthost, rules);
  std::string host = full.size() > 2 ? full.substr(2) : host_name();
  for (auto& f : completion::missing_date_and_id(fields, host, now)) fields.push_back(std::move(f));
  if (!header::find(fields, "From"))
    fields.push_back({"From", " " + from_line_value(id.full_name, id.from)});
}

std::string render(const std::vector<header::Field>& fields) {
  std::string out;
  for (const auto& f : fields) out += f.text();
  return out;
}

}  // namespace postern::inject
