// dnssec: DNS lookups whose answers are validated with DNSSEC, for DANE
// (RFC 7672). libunbound does the validation (and all parsing of the DNS
// messages it gets); it forwards to the name servers of /etc/resolv.conf,
// so the site's resolver is used as for every other lookup, and checks
// every signature itself from the trust anchors: control/trustanchors
// when it exists (DS or DNSKEY records in zone-file form, one a line),
// else the root's key in /usr/share/dns/root.key (Debian's
// dns-root-data). A resolver that strips the signatures therefore makes
// answers bogus, never secure.
//
// Trusts the trust anchors (admin's) and nothing from the network: each
// answer comes back as one of secure, insecure (no signatures expected:
// the zone is not signed), bogus (signatures expected and wrong or
// missing) or failed (no answer in time), with its records' data.
#pragma once
#include <memory>
#include <string>
#include <vector>

struct ub_ctx;

namespace postern::remote {

struct DnssecAnswer {
  enum class Status { secure, insecure, bogus, failed } status = Status::failed;
  bool nxdomain = false;
  std::vector<std::string> records;  // the rdata of each record of the asked type, wire form
  std::string packet;                // the whole answer message, wire form
  std::string why;                   // for bogus and failed: in words, for result texts
};

class DnssecResolver {
 public:
  ~DnssecResolver();
  // A resolver, or nullptr with why set (no trust anchor, or one that
  // does not load). timeout bounds each query in seconds.
  static std::unique_ptr<DnssecResolver> open(int timeout, std::string& why);
  // type is the numeric RR type (1 A, 15 MX, 28 AAAA, 52 TLSA).
  DnssecAnswer query(const std::string& name, int type);

 private:
  DnssecResolver() = default;
  ::ub_ctx* ctx_ = nullptr;
  int timeout_ = 30;
};

const char* status_name(DnssecAnswer::Status s);

}  // namespace postern::remote
