// sts_policy: the texts of MTA-STS (RFC 8461): the TXT record at
// _mta-sts.DOMAIN that says a policy exists and its id, the policy file
// served over HTTPS, and the policy's MX patterns. All of it comes from
// the network: every function here takes any bytes and either returns a
// well-formed value or says no; nothing is trusted or assumed.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::remote {

struct StsPolicy {
  enum class Mode { none, testing, enforce } mode = Mode::none;
  std::vector<std::string> mx;  // lower case, "*.example.org" or a name
  long max_age = 0;             // seconds, at most a year (RFC 8461 3.2)
};

// The id of "v=STSv1; id=...;" (3.1), or nullopt when the text is not an
// MTA-STS record or is malformed.
std::optional<std::string> sts_record_id(std::string_view txt);

// The id from all TXT records at _mta-sts.DOMAIN: exactly one must be an
// MTA-STS record, else there is no policy (3.1: several mean none).
std::optional<std::string> sts_id_of(const std::vector<std::string>& txts);

// The policy file (3.2): "key: value" lines; version STSv1, mode, max_age
// and (but for mode none) mx are required, other keys ignored. At most
// 64 KiB is read.
std::optional<StsPolicy> parse_sts_policy(std::string_view text);

// Whether host (an MX name) matches one of the policy's patterns (4.1):
// the name itself, or "*.d" for exactly one label before d.
bool sts_mx_matches(const StsPolicy& policy, std::string_view host);

const char* mode_name(StsPolicy::Mode mode);

}  // namespace postern::remote
