// author_domain: see author_domain.hpp.
#include "mail/author_domain.hpp"

#include "base/strings.hpp"
#include "mail/header.hpp"

namespace postern {

std::string author_domain(std::string_view head) {
  auto message = header::split_message(head);
  auto froms = header::find_all(message.fields, "From");
  if (froms.size() != 1) return {};
  auto boxes = header::parse_address_list(header::unfold(froms.front()->value));
  if (boxes.size() != 1) return {};
  const std::string& address = boxes.front().address;
  auto at = address.rfind('@');
  if (at == std::string::npos || at + 1 == address.size()) return {};
  return lower(address.substr(at + 1));
}

}  // namespace postern
