// rua: see rua.hpp.
#include "rua.hpp"

#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/dns_txt.hpp"

namespace postern::tlsrpt {

namespace {

std::optional<Rua> destination(std::string_view uri) {
  uri = trim(uri);
  std::string scheme = lower(std::string(uri.substr(0, uri.find(':'))));
  if (scheme == "mailto" && uri.size() > 7) {
    std::string_view rest = uri.substr(7);
    rest = rest.substr(0, rest.find('?'));  // no headers or body from a stranger
    auto address = percent_decode(rest);
    if (!address || address->size() > 254 || address->find(' ') != std::string::npos ||
        !valid_envelope_address(*address))
      return std::nullopt;
    Address a = split_address(*address);
    if (a.local.empty() || a.domain.empty()) return std::nullopt;
    return Rua{Rua::Kind::mail, *address};
  }
  if (scheme == "https" && uri.size() > 8 && uri.size() <= 2000 && uri.substr(5, 3) == "://") {
    for (char c : uri)
      if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126) return std::nullopt;
    return Rua{Rua::Kind::https, std::string(uri)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<Rua>> parse_rua_record(std::string_view txt) {
  auto fields = dns_txt::tagged_fields(txt, "TLSRPTv1");
  if (!fields) return std::nullopt;
  bool rua_seen = false;
  std::vector<Rua> out;
  for (auto& [key, value] : *fields) {
    if (key != "rua") continue;
    rua_seen = true;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto d = destination(rest.substr(0, comma));
      if (d && out.size() < 10) out.push_back(*d);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  if (!rua_seen) return std::nullopt;
  return out;
}

std::vector<Rua> rua_of(const std::vector<std::string>& txts) {
  std::optional<std::vector<Rua>> found;
  int records = 0;
  for (auto& t : txts) {
    if (t.compare(0, 11, "v=TLSRPTv1;") != 0 && t != "v=TLSRPTv1") continue;
    ++records;
    found = parse_rua_record(t);
  }
  if (records != 1 || !found) return {};
  return *found;
}

}  // namespace postern::tlsrpt
