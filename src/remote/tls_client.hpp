// tls_client: the client side of TLS for remote's STARTTLS, on OpenSSL 3.
// remote holds no private key, so unlike smtpd it speaks TLS itself
// instead of through tlsd. It trusts the system's CA store
// (/etc/ssl/certs, hashed) and control/tlsremoteca; it trusts
// nothing the peer sends: the certificate is checked by OpenSSL, and the
// result says whether it chained to a trusted CA and named an expected
// host. Returns a Transport that the SMTP conversation reads and writes
// through, so the session code is the same with and without TLS.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "base/netio.hpp"
#include "dane.hpp"

namespace postern::remote {

struct TlsFacts {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // OpenSSL's name, "TLS_AES_256_GCM_SHA384"
  int bits = 0;
  bool verified = false;     // the chain is trusted and a name matched
  std::string dane;          // verified by this TLSA record ("3 1 1"), else ""
  std::string verify_error;  // why not, for reasons and logs
  long verify_code = 0;      // OpenSSL's X509_V_ERR_..., 0 when verified
  std::string peer_subject;
};

class TlsClient : public Transport {
 public:
  ~TlsClient() override;
  // The handshake on the connected socket fd, within timeout seconds. sni
  // is sent as the server name unless it is empty or an address; names
  // are what the certificate must match (a host name, ".domain" for any
  // name under domain, or a numeric address). nullptr with why set when
  // the handshake fails; a certificate that does not verify is no failure
  // here (facts().verified says so): the caller's policy decides. With
  // tlsa records the certificate is checked against them (RFC 7672:
  // DANE-EE without name checks, DANE-TA with names[0] and the others as
  // reference names) and not against the CAs.
  static std::unique_ptr<TlsClient> connect(int fd, const std::string& sni, const std::vector<std::string>& names,
                                            const std::vector<Tlsa>& tlsa, int timeout, std::string& why);
  ssize_t read(char* buf, std::size_t n, int timeout) override;
  bool write(std::string_view data, int timeout) override;
  const TlsFacts& facts() const { return facts_; }
  // Sends close_notify without waiting for the peer's.
  void shutdown();

 private:
  TlsClient() = default;
  struct State;
  std::unique_ptr<State> s_;
  TlsFacts facts_;
};

// "TLS TLSv1.3 TLS_AES_256_GCM_SHA384" and whether the certificate
// verified, for result texts and logs.
std::string describe(const TlsFacts& facts);

// What TLS-RPT (RFC 8460 4.3) calls the outcome: "success" when the
// certificate verified, else certificate-host-mismatch,
// certificate-expired, validation-failure (no TLSA record matched) or
// certificate-not-trusted.
const char* report_result(const TlsFacts& facts);

}  // namespace postern::remote
