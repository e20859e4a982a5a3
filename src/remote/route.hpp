// route: where a remote domain's mail goes: control/smtproutes, else its
// MX records (the C library's resolver, so resolv.conf applies), else its
// own A/AAAA records; address literals go straight to the address. With a
// DNSSEC resolver (DANE) every lookup goes through it instead, and each
// destination says whether the answers that led to it were all secure.
#pragma once
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

namespace postern::remote {

// One address to try, in order.
struct Destination {
  std::string host;        // the name, for messages and Remote-MTA
  std::string address;     // numeric
  sockaddr_storage sa{};
  socklen_t len = 0;
  // The MX records (or the smtproutes relay) and this address came in
  // DNSSEC-secure answers: the host's TLSA records may be used.
  bool dnssec = false;
};

struct Route {
  enum class Result { ok, temporary, permanent } result = Result::ok;
  std::string why;  // for a failure, in the words of a bounce
  std::vector<Destination> destinations;
  bool from_mx = false;  // the destinations came from the domain's MX (or A) records
};

// The name a certificate is checked against for d: the MX host or relay
// name, or the bare address of a literal.
std::string destination_name(const Destination& d);

// How results name d: "NAME[ADDRESS]", or "[ADDRESS]" when the name is
// only the address.
std::string peer_label(const Destination& d);

class DnssecResolver;
Route find_route(const std::string& domain, int default_port, DnssecResolver* dnssec = nullptr);

// One mail exchanger of an MX answer: its preference and its name, lower
// case, "" or "." for a null MX.
struct MxRecord {
  int pref = 0;
  std::string host;
};
// The MX records of a DNS answer as res_query returns it (the wire form,
// from the network: anything may be in it). Records of other types and
// records that do not parse are skipped; nullopt when the message itself
// is malformed.
std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* answer, int length);

}  // namespace postern::remote
