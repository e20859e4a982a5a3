// host_policy: what DANE and MTA-STS make of the domain's TLS policy for
// one mail host, and the TLS-RPT record of a session to it. The domain's
// level comes from tls_policy; these only raise it for a host (never
// lower what the admin wrote). The TLSA records and the MTA-STS policy
// came from the network and were checked where they were parsed
// (dane.hpp, sts_policy.hpp).
#pragma once
#include <optional>
#include <string>

#include "mail/tls_report_log.hpp"
#include "route.hpp"
#include "session.hpp"

namespace postern::remote {

// Under dane, what the host's TLSA records say (RFC 7672 2.2): secure
// usable records demand a certificate that matches one (verify, with the
// records); secure records none of which is usable still demand TLS
// (encrypt); none leave may. False, with why, when the records cannot be
// known now (bogus, no answer): the host is not to be tried.
bool policy_for_host(const Destination& d, Settings& s, std::string& why);

// MTA-STS (RFC 8461 4.1, 4.2) for a host DANE left at may: under an
// enforce policy it must be one of the policy's MX hosts (false, with
// why, when it is not) and present a certificate that verifies and names
// it (verify).
bool sts_for_host(const Destination& d, Settings& s, std::string& why);

// TLS-RPT (RFC 8460): the policy a session to d is under, as the report
// names it, without a result; nullopt when neither DANE nor MTA-STS
// applies (nothing is recorded then).
std::optional<tls_report::Session> reported_policy(const Destination& d, const Settings& s);

// Appends the session with its result to the day's records (logged when
// it cannot be).
void record_tls(const Settings& s, tls_report::Session r, const std::string& result, const std::string& reason);

}  // namespace postern::remote
