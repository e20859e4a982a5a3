// dane: see dane.hpp.
#include "dane.hpp"

#include "dnssec.hpp"

namespace postern::remote {

std::optional<Tlsa> parse_tlsa(std::string_view rdata) {
  if (rdata.size() < 3) return std::nullopt;
  Tlsa t;
  t.usage = static_cast<std::uint8_t>(rdata[0]);
  t.selector = static_cast<std::uint8_t>(rdata[1]);
  t.mtype = static_cast<std::uint8_t>(rdata[2]);
  t.data.assign(rdata.substr(3));
  return t;
}

bool usable_for_smtp(const Tlsa& t) {
  if (t.usage != 2 && t.usage != 3) return false;
  if (t.selector > 1) return false;
  switch (t.mtype) {
    case 0: return !t.data.empty();
    case 1: return t.data.size() == 32;
    case 2: return t.data.size() == 64;
  }
  return false;
}

DaneLookup dane_lookup(DnssecResolver& resolver, const std::string& host, int port) {
  DaneLookup out;
  std::string name = "_" + std::to_string(port) + "._tcp." + host;
  DnssecAnswer a = resolver.query(name, 52);
  switch (a.status) {
    case DnssecAnswer::Status::bogus:
      out.result = DaneLookup::Result::failed;
      out.why = "the TLSA records of " + name + " fail DNSSEC validation: " + a.why;
      return out;
    case DnssecAnswer::Status::failed:
      out.result = DaneLookup::Result::failed;
      out.why = "the TLSA records of " + name + " could not be looked up: " + a.why;
      return out;
    case DnssecAnswer::Status::insecure:
      return out;
    case DnssecAnswer::Status::secure:
      break;
  }
  if (a.records.empty()) return out;
  out.result = DaneLookup::Result::records;
  for (auto& rdata : a.records) {
    auto t = parse_tlsa(rdata);
    if (t && usable_for_smtp(*t)) out.usable.push_back(*t);
  }
  return out;
}

std::string tlsa_label(const Tlsa& t) {
  return std::to_string(t.usage) + " " + std::to_string(t.selector) + " " + std::to_string(t.mtype);
}

}  // namespace postern::remote
