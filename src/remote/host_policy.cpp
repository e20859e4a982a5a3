// host_policy: see host_policy.hpp.
#include "host_policy.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/log.hpp"
#include "dane.hpp"

namespace postern::remote {

bool policy_for_host(const Destination& d, Settings& s, std::string& why) {
  if (s.tls.level != TlsLevel::dane) return true;
  s.tls.level = TlsLevel::may;
  if (!s.dnssec || !d.dnssec) return true;
  int port = d.sa.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&d.sa)->sin6_port)
                                        : ntohs(reinterpret_cast<const sockaddr_in*>(&d.sa)->sin_port);
  DaneLookup dane = dane_lookup(*s.dnssec, destination_name(d), port);
  if (dane.result == DaneLookup::Result::failed) {
    why = "DANE: " + dane.why + "; " + peer_label(d) + " was not tried. (#4.7.5)";
    return false;
  }
  if (dane.result == DaneLookup::Result::none) return true;
  std::string records = "_" + std::to_string(port) + "._tcp." + destination_name(d);
  s.tls.dane = true;
  if (dane.usable.empty()) {
    s.tls.level = TlsLevel::encrypt;
    s.tls.source = "DANE: the TLSA records of " + records + ", none usable";
  } else {
    s.tls.level = TlsLevel::verify;
    s.tls.tlsa = dane.usable;
    s.tls.source = "DANE: the TLSA records of " + records;
  }
  return true;
}

bool sts_for_host(const Destination& d, Settings& s, std::string& why) {
  if (!s.sts || s.sts->mode != StsPolicy::Mode::enforce || s.tls.level != TlsLevel::may) return true;
  if (!sts_mx_matches(*s.sts, destination_name(d))) {
    why = "MTA-STS: " + destination_name(d) + " is not a mail host the policy of " + s.domain +
          " (enforce) lists; it was not tried. (#4.7.5)";
    return false;
  }
  s.tls.level = TlsLevel::verify;
  s.tls.match.clear();
  s.tls.source = "the MTA-STS policy of " + s.domain + ", enforce";
  return true;
}

std::optional<tls_report::Session> reported_policy(const Destination& d, const Settings& s) {
  tls_report::Session r;
  if (s.tls.dane) {
    r.policy_type = "tlsa";
    for (auto& t : s.tls.tlsa) {
      std::string hex(t.data.size() * 2 + 1, '\0');
      sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(t.data.data()), t.data.size());
      hex.pop_back();
      r.policy.push_back(tlsa_label(t) + " " + hex);
    }
  } else if (s.sts && s.sts->mode != StsPolicy::Mode::none) {
    r.policy_type = "sts";
    r.policy.push_back("version: STSv1");
    r.policy.push_back(std::string("mode: ") + mode_name(s.sts->mode));
    for (auto& m : s.sts->mx) r.policy.push_back("mx: " + m);
    r.policy.push_back("max_age: " + std::to_string(s.sts->max_age));
  } else {
    return std::nullopt;
  }
  r.mx = destination_name(d);
  r.ip = d.address;
  return r;
}

void record_tls(const Settings& s, tls_report::Session r, const std::string& result, const std::string& reason) {
  r.result = result;
  r.reason = reason;
  if (!tls_report::record(s.domain, r, std::time(nullptr)))
    log::line("unable to record the TLS outcome for {} (TLS-RPT): {}", s.domain, std::strerror(errno));
}

}  // namespace postern::remote
