// dmarc: see dmarc.hpp.
#include "dmarc.hpp"

#include <opendmarc/dmarc.h>

#include <cstring>

namespace postern::authcheck {

namespace {

unsigned char* u(const std::string& s) { return reinterpret_cast<unsigned char*>(const_cast<char*>(s.c_str())); }

int spf_outcome(const std::string& r) {
  if (r == "pass") return DMARC_POLICY_SPF_OUTCOME_PASS;
  if (r == "fail" || r == "softfail") return DMARC_POLICY_SPF_OUTCOME_FAIL;
  if (r == "temperror") return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
  return DMARC_POLICY_SPF_OUTCOME_NONE;
}

int dkim_outcome(const std::string& r) {
  if (r == "pass") return DMARC_POLICY_DKIM_OUTCOME_PASS;
  if (r == "temperror") return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
  if (r == "fail") return DMARC_POLICY_DKIM_OUTCOME_FAIL;
  return DMARC_POLICY_DKIM_OUTCOME_NONE;
}

struct Library {
  bool ready = false;
  OPENDMARC_LIB_T settings {};
  Library() {
    settings.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
    std::strncpy(reinterpret_cast<char*>(settings.tld_source_file), public_suffix_list,
                 sizeof settings.tld_source_file - 1);
    ready = opendmarc_policy_library_init(&settings) == DMARC_PARSE_OKAY;
  }
  ~Library() {
    if (ready) opendmarc_policy_library_shutdown(&settings);
  }
};

}  // namespace

DmarcResult check_dmarc(const std::string& ip, const std::string& author_domain, const SpfResult& spf, bool helo,
                        const std::vector<DkimResult>& dkim) {
  DmarcResult out;
  out.domain = author_domain;
  if (author_domain.empty()) {
    out.result = "permerror";
    return out;
  }
  static Library library;
  if (!library.ready) {
    out.result = "temperror";
    return out;
  }
  int type = ip.find(':') == std::string::npos ? DMARC_POLICY_IP_TYPE_IPV4 : DMARC_POLICY_IP_TYPE_IPV6;
  DMARC_POLICY_T* p = opendmarc_policy_connect_init(u(ip), type);
  if (!p) {
    out.result = "temperror";
    return out;
  }
  opendmarc_policy_store_from_domain(p, u(author_domain));
  for (auto& d : dkim)
    if (!d.domain.empty()) opendmarc_policy_store_dkim(p, u(d.domain), u(d.selector), dkim_outcome(d.result), nullptr);
  if (!spf.domain.empty())
    opendmarc_policy_store_spf(p, u(spf.domain), spf_outcome(spf.result),
                               helo ? DMARC_POLICY_SPF_ORIGIN_HELO : DMARC_POLICY_SPF_ORIGIN_MAILFROM, nullptr);
  int status = opendmarc_policy_query_dmarc(p, nullptr);
  if (status == DMARC_DNS_ERROR_TMPERR) {
    out.result = "temperror";
  } else if (status == DMARC_DNS_ERROR_NO_RECORD || status == DMARC_DNS_ERROR_NXDOMAIN) {
    out.result = "none";
  } else if (status != DMARC_PARSE_OKAY) {
    out.result = "permerror";
  } else {
    int p_value = 0;
    opendmarc_policy_fetch_p(p, &p_value);
    int sp_value = 0;
    opendmarc_policy_fetch_sp(p, &sp_value);
    switch (opendmarc_get_policy_to_enforce(p)) {
      case DMARC_POLICY_PASS: out.result = "pass"; break;
      case DMARC_POLICY_ABSENT: out.result = "none"; break;
      case DMARC_POLICY_REJECT: out.result = "fail"; out.policy = 'r'; break;
      case DMARC_POLICY_QUARANTINE: out.result = "fail"; out.policy = 'q'; break;
      case DMARC_POLICY_NONE: out.result = "fail"; out.policy = 'n'; break;
      default: out.result = "permerror"; break;
    }
  }
  opendmarc_policy_connect_shutdown(p);
  return out;
}

}  // namespace postern::authcheck
