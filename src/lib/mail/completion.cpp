// completion: see completion.hpp.
#include "mail/completion.hpp"

#include "base/date.hpp"
#include "base/unique.hpp"

namespace postern::completion {

std::string message_id(std::string_view host, std::time_t now) {
  return "<" + std::to_string(now) + "." + random_hex(8) + "@" + std::string(host) + ">";
}

std::vector<header::Field> missing_date_and_id(const std::vector<header::Field>& fields, std::string_view host,
                                               std::time_t now) {
  std::vector<header::Field> out;
  if (!header::find(fields, "Message-ID")) out.push_back({"Message-ID", " " + message_id(host, now)});
  if (!header::find(fields, "Date")) out.push_back({"Date", " " + rfc5322_date(now)});
  return out;
}

}  // namespace postern::completion
