// Fuzz target: the DNS answers authcheck's libraries parse (authcheck(8)):
// an SPF record, evaluated in full by libspf2 (its record compiler, macro
// expansion and mechanisms, every further look-up answered by an in-memory
// zone holding only this record), and a DMARC record parsed by
// libopendmarc and turned into a policy. The libraries are Debian's, not
// instrumented: this finds what crashes, hangs or leaks them through the
// calls authcheck makes, not overflows inside them. Input: any bytes, the
// text of the TXT record. Checks: no crash, an SPF result in the known set.
#include <netinet/in.h>
#include <sys/socket.h>
extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>
}
#include <opendmarc/dmarc.h>

#include <cstdint>
#include <string>

#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A TXT string holds no NUL; a record is at most what a DNS answer holds.
  std::string text(reinterpret_cast<const char*>(data), size < 4000 ? size : 4000);
  for (auto& c : text)
    if (c == '\0') c = ' ';

  SPF_dns_server_t* zone = SPF_dns_zone_new(nullptr, "fuzz", 0);
  if (zone) {
    SPF_dns_zone_add_str(zone, "fuzz.test", ns_t_txt, NETDB_SUCCESS, text.c_str());
    SPF_server_t* server = SPF_server_new_dns(zone, 0);
    SPF_request_t* request = server ? SPF_request_new(server) : nullptr;
    if (request && SPF_request_set_ipv4_str(request, "192.0.2.1") == SPF_E_SUCCESS &&
        SPF_request_set_helo_dom(request, "helo.fuzz.test") == SPF_E_SUCCESS &&
        SPF_request_set_env_from(request, "someone@fuzz.test") == 0) {
      SPF_response_t* response = nullptr;
      SPF_request_query_mailfrom(request, &response);
      if (response) {
        int r = SPF_response_result(response);
        FUZZ_CHECK(r >= SPF_RESULT_INVALID && r <= SPF_RESULT_PERMERROR, text);
        SPF_response_free(response);
      }
    }
    if (request) SPF_request_free(request);
    if (server) SPF_server_free(server);
    SPF_dns_free(zone);  // a server made with _new_dns leaves its resolver to the caller
  }

  static OPENDMARC_LIB_T lib = [] {
    OPENDMARC_LIB_T l {};
    l.tld_type = OPENDMARC_TLD_TYPE_NONE;
    opendmarc_policy_library_init(&l);
    return l;
  }();
  (void)lib;
  DMARC_POLICY_T* p = opendmarc_policy_connect_init(reinterpret_cast<unsigned char*>(const_cast<char*>("192.0.2.1")),
                                                     DMARC_POLICY_IP_TYPE_IPV4);
  if (p) {
    unsigned char from[] = "fuzz.test";
    opendmarc_policy_store_from_domain(p, from);
    if (opendmarc_policy_parse_dmarc(p, from, reinterpret_cast<unsigned char*>(text.data())) == DMARC_PARSE_OKAY)
      (void)opendmarc_get_policy_to_enforce(p);
    opendmarc_policy_connect_shutdown(p);
  }
  return 0;
}
