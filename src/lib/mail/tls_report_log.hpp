// tls_report_log: the TLS outcomes remote records for TLS-RPT (RFC 8460),
// one line per SMTP session (or attempt the policy stopped) to a domain
// that has an MTA-STS policy or DANE records, appended to
// queue/tlsrpt/DAY/DOMAIN (DAY the UTC date, YYYY-MM-DD), which tlsrpt(8)
// sums into the daily reports. remote writes it (posternr), tlsrpt reads
// it (posternr); the host names and reasons in it came from the network,
// so decode checks every field as it would a stranger's.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::tls_report {

struct Session {
  std::string policy_type;          // "sts" or "tlsa" (RFC 8460 4.4)
  std::vector<std::string> policy;  // the policy-string: the policy's lines, or the TLSA records
  std::string result;               // "success" or a result-type of RFC 8460 4.3
  std::string mx;                   // receiving-mx-hostname
  std::string ip;                   // receiving-ip ("" when no connection was made)
  std::string reason;               // failure-reason-code: our words, for the admin at the other end
};

// One line, without its newline: tab-separated fields, the policy's lines
// joined by '|'; tabs, newlines, '|' and other control bytes in a field
// become spaces, and each field is cut to a bound.
std::string encode(const Session& s);
std::optional<Session> decode(std::string_view line);

// The directory of one UTC day, "<conf-home>/queue/tlsrpt/2026-12-01".
std::string day_dir(std::time_t t);

// Appends s to the file of domain for the day of now (one write, so lines
// of concurrent remotes never mix); false with errno when it cannot.
bool record(const std::string& domain, const Session& s, std::time_t now);

}  // namespace postern::tls_report
