// route: see route.hpp.
//
// The MX list is sorted by preference, with hosts of equal preference in
// random order (randombytes_uniform) to share the load. A host in the list
// that is this host (its name is control/me or in control/locals, or one
// of its addresses is on a local interface) cuts the list there: only
// better-preference hosts are used, and when this host is the best, the
// mail bounces as a loop (it would come straight back).
#include "route.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "base/strings.hpp"
#include "base/unique.hpp"
#include "dnssec.hpp"
#include "mail/control.hpp"

namespace postern::remote {

namespace {

struct Mx {
  int pref;
  std::string host;
  unsigned tiebreak;
};

std::string numeric(const sockaddr* sa, socklen_t len) {
  char buf[NI_MAXHOST];
  if (getnameinfo(sa, len, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return buf;
}

std::set<std::string> local_addresses() {
  std::set<std::string> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (auto* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    int fam = i->ifa_addr->sa_family;
    if (fam == AF_INET) out.insert(numeric(i->ifa_addr, sizeof(sockaddr_in)));
    if (fam == AF_INET6) out.insert(numeric(i->ifa_addr, sizeof(sockaddr_in6)));
  }
  freeifaddrs(ifs);
  return out;
}

// The destination at address (numeric, no DNS), named name; nullopt when
// address is not a numeric IPv4 or IPv6 address.
std::optional<Destination> numeric_destination(const std::string& name, const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return std::nullopt;
  Destination d;
  d.host = name;
  std::memcpy(&d.sa, res->ai_addr, res->ai_addrlen);
  d.len = res->ai_addrlen;
  d.address = numeric(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return d;
}

// The host's addresses; temporary on a DNS error. Through the C library's
// resolver, or with dnssec through the validating one, which also says
// whether every address came in a secure answer (a bogus answer is a
// temporary failure: the host cannot be used now).
enum class Lookup { found, none, temporary };
Lookup addresses(const std::string& host, int port, std::vector<Destination>& out, DnssecResolver* dnssec) {
  // A numeric address (an smtproutes relay may be one) is no DNS name.
  if (auto d = numeric_destination(host, host, port)) {
    out.push_back(*d);
    return Lookup::found;
  }
  if (dnssec) {
    std::size_t before = out.size();
    bool secure = true;
    for (int type : {28, 1}) {
      DnssecAnswer a = dnssec->query(host, type);
      if (a.status == DnssecAnswer::Status::bogus || a.status == DnssecAnswer::Status::failed) return Lookup::temporary;
      secure &= a.status == DnssecAnswer::Status::secure;
      for (auto& rdata : a.records) {
        Destination d;
        d.host = host;
        if (type == 28 && rdata.size() == 16) {
          auto* sa = reinterpret_cast<sockaddr_in6*>(&d.sa);
          sa->sin6_family = AF_INET6;
          sa->sin6_port = htons(static_cast<uint16_t>(port));
          std::memcpy(&sa->sin6_addr, rdata.data(), 16);
          d.len = sizeof(sockaddr_in6);
        } else if (type == 1 && rdata.size() == 4) {
          auto* sa = reinterpret_cast<sockaddr_in*>(&d.sa);
          sa->sin_family = AF_INET;
          sa->sin_port = htons(static_cast<uint16_t>(port));
          std::memcpy(&sa->sin_addr, rdata.data(), 4);
          d.len = sizeof(sockaddr_in);
        } else {
          continue;
        }
        d.address = numeric(reinterpret_cast<sockaddr*>(&d.sa), d.len);
        out.push_back(d);
      }
    }
    for (std::size_t i = before; i < out.size(); ++i) out[i].dnssec = secure;
    return out.size() > before ? Lookup::found : Lookup::none;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int r = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (r == EAI_NONAME || r == EAI_NODATA) return Lookup::none;
  if (r != 0) return Lookup::temporary;
  for (auto* a = res; a; a = a->ai_next) {
    Destination d;
    d.host = host;
    std::memcpy(&d.sa, a->ai_addr, a->ai_addrlen);
    d.len = a->ai_addrlen;
    d.address = numeric(a->ai_addr, a->ai_addrlen);
    out.push_back(d);
  }
  freeaddrinfo(res);
  return out.empty() ? Lookup::none : Lookup::found;
}

// A literal [1.2.3.4] or [IPv6:...].
bool literal(const std::string& domain, int port, Route& route) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return false;
  std::string inner = domain.substr(1, domain.size() - 2);
  if (lower(inner.substr(0, 5)) == "ipv6:") inner = inner.substr(5);
  auto d = numeric_destination(domain, inner, port);
  if (!d) {
    route.result = Route::Result::permanent;
    route.why = "The address literal " + domain + " is not a valid address. (#5.1.2)";
    return true;
  }
  route.destinations.push_back(*d);
  return true;
}

// The relay control/smtproutes names for domain: "" for none (use DNS).
bool smtproute(const std::string& domain, std::string& relay, int& port, std::string& why) {
  auto lines = control::lines("smtproutes");
  if (!lines) {
    why = "Unable to read control/smtproutes. (#4.3.0)";
    return false;
  }
  std::string best_key;
  bool found = false;
  for (auto& l : *lines) {
    auto colon = l.find(':');
    if (colon == std::string::npos) continue;
    std::string key = lower(l.substr(0, colon));
    bool match = key == domain || key.empty() ||
                 (key[0] == '.' && domain.size() > key.size() &&
                  domain.compare(domain.size() - key.size(), key.size(), key) == 0);
    // The exact domain wins over any suffix, a longer suffix over a shorter
    // one, and the empty key (everything) comes last.
    bool better = !found || (key == domain && best_key != domain) ||
                  (best_key != domain && key.size() > best_key.size());
    if (!match || !better) continue;
    found = true;
    best_key = key;
    std::string rest = l.substr(colon + 1);
    // A relay may be a bracketed IPv6 literal with colons inside.
    std::size_t port_colon = rest.rfind(':');
    if (!rest.empty() && rest.front() == '[') port_colon = rest.find("]:") == std::string::npos ? std::string::npos : rest.find("]:") + 1;
    relay = rest.substr(0, port_colon);
    port = 25;
    if (port_colon != std::string::npos) {
      auto p = to_number(rest.substr(port_colon + 1));
      if (!p || *p == 0 || *p > 65535) {
        why = "control/smtproutes has a bad port: " + l + " (#4.3.5)";
        return false;
      }
      port = static_cast<int>(*p);
    }
  }
  return true;
}

}  // namespace

std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* answer, int length) {
  ns_msg msg;
  if (length < 0 || ns_initparse(answer, length, &msg) != 0) return std::nullopt;
  std::vector<MxRecord> out;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) break;  // the rest is cut off
    if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) continue;
    int pref = ns_get16(ns_rr_rdata(rr));
    char name[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name, sizeof name) < 0) continue;
    out.push_back({pref, lower(name)});
  }
  return out;
}

// The name a certificate is checked against for this destination: the
// MX host or relay name, or the bare address of a literal.
std::string destination_name(const Destination& d) {
  std::string h = d.host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (lower(h.substr(0, 5)) == "ipv6:") h = h.substr(5);
  return h;
}

// How results name the peer: "NAME[ADDRESS]", or "[ADDRESS]" alone when
// the name is only the address (a literal or a bracketed smtproutes relay),
// so the address is not said twice; send's bounce reads either form for
// Remote-MTA.
std::string peer_label(const Destination& d) {
  std::string h = destination_name(d);
  return h == d.address ? "[" + d.address + "]" : d.host + "[" + d.address + "]";
}

Route find_route(const std::string& raw_domain, int default_port, DnssecResolver* dnssec) {
  Route route;
  std::string domain = lower(raw_domain);
  if (literal(domain, default_port, route)) return route;

  std::string relay;
  int port = default_port;
  if (!smtproute(domain, relay, port, route.why)) {
    route.result = Route::Result::temporary;
    return route;
  }
  if (!relay.empty()) {
    if (literal(relay, port, route)) return route;
    auto r = addresses(relay, port, route.destinations, dnssec);
    if (r != Lookup::found) {
      route.result = Route::Result::temporary;
      route.why = "Unable to find the address of the relay " + relay + " from control/smtproutes. (#4.4.3)";
    }
    return route;
  }

  route.from_mx = true;
  std::vector<Mx> mxes;
  bool mx_secure = false;
  if (dnssec) {
    DnssecAnswer a = dnssec->query(domain, ns_t_mx);
    if (a.status == DnssecAnswer::Status::bogus) {
      route.result = Route::Result::temporary;
      route.why = "The MX records of " + domain + " fail DNSSEC validation: " + a.why + ". (#4.7.5)";
      return route;
    }
    if (a.status == DnssecAnswer::Status::failed) {
      route.result = Route::Result::temporary;
      route.why = "A temporary DNS failure looking up " + domain + ": " + a.why + ". (#4.4.3)";
      return route;
    }
    if (a.nxdomain) {
      route.result = Route::Result::permanent;
      route.why = "Sorry, I couldn't find any host named " + domain + ". (#5.1.2)";
      return route;
    }
    mx_secure = a.status == DnssecAnswer::Status::secure;
    if (!a.records.empty()) {
      auto records = parse_mx_answer(reinterpret_cast<const unsigned char*>(a.packet.data()),
                                     static_cast<int>(a.packet.size()));
      if (!records) {
        route.result = Route::Result::temporary;
        route.why = "A malformed DNS answer for " + domain + ". (#4.4.3)";
        return route;
      }
      for (auto& r : *records) mxes.push_back({r.pref, r.host, randombytes_uniform(1u << 30)});
    }
  } else {
    // The largest DNS message there is (TCP's 16-bit length), on the heap:
    // an answer of many MX records must fit whole. res_query returns the
    // length of the whole answer even when it kept only what fit in the
    // buffer, so the length is clamped to the buffer and such an answer is
    // taken as truncated: only what is in the buffer is ever parsed.
    std::vector<unsigned char> answer(65536);
    int n = res_query(domain.c_str(), ns_c_in, ns_t_mx, answer.data(), static_cast<int>(answer.size()));
    if (n > static_cast<int>(answer.size())) n = static_cast<int>(answer.size());
    if (n < 0) {
      if (h_errno == HOST_NOT_FOUND) {
        route.result = Route::Result::permanent;
        route.why = "Sorry, I couldn't find any host named " + domain + ". (#5.1.2)";
        return route;
      }
      if (h_errno != NO_DATA) {
        route.result = Route::Result::temporary;
        route.why = "A temporary DNS failure looking up " + domain + ". (#4.4.3)";
        return route;
      }
    } else {
      // Also an answer cut short (its counts promise more records than it
      // holds) may fail to parse: a later try may get it whole.
      auto records = parse_mx_answer(answer.data(), n);
      if (!records) {
        route.result = Route::Result::temporary;
        route.why = "A malformed or truncated DNS answer for " + domain + ". (#4.4.3)";
        return route;
      }
      for (auto& r : *records) mxes.push_back({r.pref, r.host, randombytes_uniform(1u << 30)});
    }
  }
  // RFC 7505: a single MX of "." means the domain takes no mail.
  if (mxes.size() == 1 && (mxes[0].host.empty() || mxes[0].host == ".")) {
    route.result = Route::Result::permanent;
    route.why = "The domain " + domain + " does not accept mail (null MX). (#5.1.10)";
    return route;
  }
  // No MX: the domain itself is the mail host (RFC 5321 section 5.1).
  if (mxes.empty()) mxes.push_back({0, domain, 0});
  std::sort(mxes.begin(), mxes.end(),
            [](const Mx& a, const Mx& b) { return a.pref != b.pref ? a.pref < b.pref : a.tiebreak < b.tiebreak; });

  auto me = control::line("me", host_name());
  auto locals = control::lines("locals");
  if (!me || !locals) {
    route.result = Route::Result::temporary;
    route.why = "Unable to read control/me or control/locals. (#4.3.0)";
    return route;
  }
  std::set<std::string> my_names{lower(*me)};
  for (auto& l : *locals) my_names.insert(lower(l));
  auto mine = local_addresses();
  bool dns_trouble = false;
  std::vector<int> prefs;  // the preference of each destination
  for (auto& mx : mxes) {
    std::vector<Destination> found;
    auto r = addresses(mx.host, default_port, found, dnssec);
    // RFC 7672 2.2: a host's TLSA records count only when the MX records
    // that named it were secure too.
    for (auto& d : found) d.dnssec &= mx_secure;
    if (r == Lookup::temporary) dns_trouble = true;
    bool is_me = my_names.count(mx.host) > 0;
    for (auto& d : found) is_me |= mine.count(d.address) > 0;
    if (is_me) {
      // Only hosts preferred over this one may be used.
      std::vector<Destination> kept;
      for (std::size_t i = 0; i < route.destinations.size(); ++i)
        if (prefs[i] < mx.pref) kept.push_back(route.destinations[i]);
      route.destinations = std::move(kept);
      if (route.destinations.empty()) {
        route.result = Route::Result::permanent;
        route.why = "This host is a best-preference mail exchanger for " + domain +
                    ", but " + domain + " is not in control/locals: a mail loop. (#5.4.6)";
      }
      return route;
    }
    route.destinations.insert(route.destinations.end(), found.begin(), found.end());
    prefs.insert(prefs.end(), found.size(), mx.pref);
  }
  if (route.destinations.empty()) {
    route.result = dns_trouble ? Route::Result::temporary : Route::Result::permanent;
    route.why = dns_trouble ? "A temporary DNS failure looking up the mail hosts of " + domain + ". (#4.4.3)"
                            : "Sorry, I couldn't find a mail host for " + domain + ". (#5.1.2)";
  }
  return route;
}

}  // namespace postern::remote
