// spf: see spf.hpp.
#include "spf.hpp"

#include <arpa/inet.h>

// libspf2's headers need these first, and its types.
#include <netinet/in.h>
#include <sys/socket.h>
extern "C" {
#include <spf2/spf.h>
}

#include <memory>

#include "base/strings.hpp"

namespace postern::authcheck {

namespace {

struct ServerFree {
  void operator()(SPF_server_t* s) const { SPF_server_free(s); }
};
struct RequestFree {
  void operator()(SPF_request_t* r) const { SPF_request_free(r); }
};
struct ResponseFree {
  void operator()(SPF_response_t* r) const { SPF_response_free(r); }
};

std::string result_name(SPF_result_t r) {
  switch (r) {
    case SPF_RESULT_NEUTRAL: return "neutral";
    case SPF_RESULT_PASS: return "pass";
    case SPF_RESULT_FAIL: return "fail";
    case SPF_RESULT_SOFTFAIL: return "softfail";
    case SPF_RESULT_NONE: return "none";
    case SPF_RESULT_TEMPERROR: return "temperror";
    case SPF_RESULT_PERMERROR: return "permerror";
    default: return "permerror";
  }
}

bool plain(const std::string& s) {
  if (s.empty() || s.size() > 512) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c >= 127) return false;
  return true;
}

}  // namespace

SpfResult check_spf(const std::string& ip, const std::string& helo, const std::string& identity,
                    const std::string& receiver) {
  SpfResult out;
  auto at = identity.rfind('@');
  out.domain = lower(at == std::string::npos ? identity : identity.substr(at + 1));
  in6_addr a6;
  in_addr a4;
  bool v4 = ::inet_pton(AF_INET, ip.c_str(), &a4) == 1;
  bool v6 = !v4 && ::inet_pton(AF_INET6, ip.c_str(), &a6) == 1;
  if ((!v4 && !v6) || !plain(identity) || !plain(helo) || out.domain.empty()) return out;

  // One server a check: SPF_DNS_CACHE in front of the system's resolver.
  std::unique_ptr<SPF_server_t, ServerFree> server(SPF_server_new(SPF_DNS_CACHE, 0));
  if (!server) {
    out.result = "temperror";
    return out;
  }
  // The name in libspf2's explanations ("mx.example: domain of ... designates").
  if (!receiver.empty() && plain(receiver)) SPF_server_set_rec_dom(server.get(), receiver.c_str());
  std::unique_ptr<SPF_request_t, RequestFree> request(SPF_request_new(server.get()));
  std::string from = at == std::string::npos ? "postmaster@" + identity : identity;
  if (!request || (v4 ? SPF_request_set_ipv4_str(request.get(), ip.c_str())
                      : SPF_request_set_ipv6_str(request.get(), ip.c_str())) != SPF_E_SUCCESS ||
      SPF_request_set_helo_dom(request.get(), helo.c_str()) != SPF_E_SUCCESS ||
      SPF_request_set_env_from(request.get(), from.c_str()) != 0) {
    out.result = "permerror";
    return out;
  }
  SPF_response_t* raw = nullptr;
  SPF_request_query_mailfrom(request.get(), &raw);
  std::unique_ptr<SPF_response_t, ResponseFree> response(raw);
  if (!response) {
    out.result = "temperror";
    return out;
  }
  out.result = result_name(SPF_response_result(response.get()));
  // libspf2 calls a failed look-up (SERVFAIL, a timeout) permerror; RFC
  // 7208 2.6.6 makes it temperror, which a sender retries.
  bool dns_failed = SPF_response_errcode(response.get()) == SPF_E_DNS_ERROR;
  for (int i = 0; i < SPF_response_messages(response.get()); ++i)
    if (SPF_error_t* e = SPF_response_message(response.get(), i)) dns_failed |= SPF_error_code(e) == SPF_E_DNS_ERROR;
  if (out.result == "permerror" && dns_failed) out.result = "temperror";
  if (const char* c = SPF_response_get_header_comment(response.get())) out.comment = c;
  return out;
}

}  // namespace postern::authcheck
