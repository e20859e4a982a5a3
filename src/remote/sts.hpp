// sts: the MTA-STS policy (RFC 8461) of a domain that remote delivers to:
// the id in DNS (TXT _mta-sts.DOMAIN), the policy fetched over HTTPS from
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt by libcurl (the system's
// CAs and control/tlsremoteca; no redirects; at most 64 KiB in 60 s), and
// a cache of one file a domain in queue/mtasts/ (posternr's), used until
// max_age runs out while the id stays the same, and used instead of a
// fetch that fails (RFC 8461 5.1: a cached policy outlives an outage or
// an attacker who blocks the fetch).
//
// Trusts the cache directory (posternr's own); nothing from DNS or HTTPS.
#pragma once
#include <optional>
#include <string>

#include "sts_policy.hpp"

namespace postern::remote {

struct StsLookup {
  std::optional<StsPolicy> policy;  // nullopt: the domain has none
  std::string note;                 // what happened, for the log ("fetched", "cached", "fetch failed: ...")
  // The domain publishes a policy that could not be had, and none is
  // cached: TLS-RPT's sts-policy-fetch-error or sts-policy-invalid.
  std::string failure;
};

StsLookup sts_policy_for(const std::string& domain, int timeout);

}  // namespace postern::remote
