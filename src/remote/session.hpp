// session: one SMTP client conversation that delivers a message to some
// recipients, and the connection attempts that lead to it; STARTTLS as
// the domain's TLS policy asks (tls_policy.hpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "reply.hpp"
#include "route.hpp"
#include "sts_policy.hpp"
#include "tls_policy.hpp"

namespace postern::remote {

struct Settings {
  std::string helo_host;
  int timeout_connect = 60;
  int timeout_remote = 1200;
  std::string outgoing_ip;  // empty: the kernel chooses
  std::string domain;       // the recipients' domain, for the TLS policy's names
  TlsPolicy tls;
  // Under dane: the validating resolver that found the route, for the
  // TLSA records of each host (nullptr otherwise).
  DnssecResolver* dnssec = nullptr;
  // The domain's MTA-STS policy, when it has one and the TLS policy is
  // may or dane: in enforce mode a host without DANE must be listed in it
  // and present a certificate that verifies and names it.
  std::optional<StsPolicy> sts;
};

struct Outcome {
  char result = 'Z';  // K delivered, Z deferred, D failed
  std::string text;
};

// Tries the destinations in order until one takes the message (or refuses
// it for good); one Outcome per recipient, in order. The message is fd 0.
std::vector<Outcome> deliver(const std::vector<Destination>& destinations, const Settings& settings,
                             const std::string& sender, const std::vector<std::string>& recipients);

}  // namespace postern::remote
