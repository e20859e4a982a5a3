// tls_client: see tls_client.hpp.
//
// The certificate is checked but the handshake never stops on it
// (SSL_VERIFY_NONE, then SSL_get_verify_result): opportunistic TLS with an
// unverified certificate still beats plaintext, and the caller can then
// say exactly why a certificate was not good enough for a stricter policy.
// The socket is non-blocking for the handshake and every read and write,
// each waiting at most the caller's timeout, so a peer that stalls in the
// middle of TLS costs no more than one that stalls in SMTP.
#include "tls_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "base/netio.hpp"
#include "mail/conf.hpp"

namespace postern::remote {

struct TlsClient::State {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  ~State() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

const char* const system_ca_dir = "/etc/ssl/certs";

bool is_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// OpenSSL's queued errors as one line (and the queue emptied).
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// After an SSL call returned r <= 0: true when it should be called again
// (after waiting for the socket), false with errno and why set otherwise.
bool again(SSL* ssl, int fd, int r, int timeout, std::string& why) {
  int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    if (wait_ready(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout)) return true;
    why = "timed out";
    return false;
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    why = "the peer closed TLS";
    errno = 0;
    return false;
  }
  std::string errs = ssl_errors();
  if (e == SSL_ERROR_SYSCALL && errs.empty()) {
    why = errno ? std::strerror(errno) : "the connection was closed";
  } else {
    why = errs.empty() ? "TLS error " + std::to_string(e) : errs;
  }
  errno = EPROTO;
  return false;
}

}  // namespace

TlsClient::~TlsClient() = default;

std::unique_ptr<TlsClient> TlsClient::connect(int fd, const std::string& sni, const std::vector<std::string>& names,
                                              const std::vector<Tlsa>& tlsa, int timeout, std::string& why) {
  ERR_clear_error();
  std::unique_ptr<TlsClient> c(new TlsClient);
  c->s_ = std::make_unique<State>();
  State& s = *c->s_;
  s.fd = fd;
  s.ctx = SSL_CTX_new(TLS_client_method());
  if (!s.ctx) {
    why = "unable to start OpenSSL: " + ssl_errors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(s.ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(s.ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(s.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_verify(s.ctx, SSL_VERIFY_NONE, nullptr);
  // The system store through its hashed directory (update-ca-certificates
  // keeps it and ca-certificates.crt in step): OpenSSL then reads only the
  // CA a chain names, where parsing the whole bundle costs some 35 ms of
  // CPU per delivery. A missing store only means nothing verifies; a
  // private CA file that exists but does not load must not pass silently.
  if (!tlsa.empty() && SSL_CTX_dane_enable(s.ctx) <= 0) {
    why = "unable to start DANE in OpenSSL: " + ssl_errors();
    return nullptr;
  }
  if (SSL_CTX_load_verify_dir(s.ctx, system_ca_dir) != 1) ERR_clear_error();
  std::string ca_error;
  std::string private_cas = conf::path("control/tlsremoteca");
  struct stat st;
  if (::stat(private_cas.c_str(), &st) == 0 && SSL_CTX_load_verify_file(s.ctx, private_cas.c_str()) != 1)
    ca_error = "control/tlsremoteca does not load: " + ssl_errors();

  s.ssl = SSL_new(s.ctx);
  if (!s.ssl) {
    why = "unable to start OpenSSL: " + ssl_errors();
    return nullptr;
  }
  if (!sni.empty() && !is_address(sni)) SSL_set_tlsext_host_name(s.ssl, sni.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(s.ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  bool first = true;
  if (!tlsa.empty()) {
    // OpenSSL matches the records; the first name is DANE's base domain.
    if (names.empty() || SSL_dane_enable(s.ssl, names[0].c_str()) <= 0) {
      why = "unable to start DANE in OpenSSL: " + ssl_errors();
      return nullptr;
    }
    SSL_dane_set_flags(s.ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    int loaded = 0;
    for (auto& t : tlsa)
      loaded += SSL_dane_tlsa_add(s.ssl, t.usage, t.selector, t.mtype,
                                  reinterpret_cast<const unsigned char*>(t.data.data()), t.data.size()) > 0;
    ERR_clear_error();
    if (loaded == 0) {
      why = "none of the TLSA records is usable to OpenSSL";
      return nullptr;
    }
    first = false;
  }
  for (auto& n : names) {
    if (!tlsa.empty() && &n == &names[0]) continue;
    if (is_address(n)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, n.c_str());
    } else if (first) {
      X509_VERIFY_PARAM_set1_host(param, n.c_str(), 0);
      first = false;
    } else {
      X509_VERIFY_PARAM_add1_host(param, n.c_str(), 0);
    }
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  SSL_set_fd(s.ssl, fd);
  for (;;) {
    int r = SSL_connect(s.ssl);
    if (r == 1) break;
    if (!again(s.ssl, fd, r, timeout, why)) return nullptr;
  }

  TlsFacts& f = c->facts_;
  f.version = SSL_get_version(s.ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(s.ssl);
  f.cipher = cipher ? SSL_CIPHER_get_name(cipher) : "?";
  f.bits = cipher ? SSL_CIPHER_get_bits(cipher, nullptr) : 0;
  X509* peer = SSL_get0_peer_certificate(s.ssl);
  long result = SSL_get_verify_result(s.ssl);
  if (peer) {
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
    f.peer_subject = log::printable(buf, 200);
  }
  if (!peer) {
    f.verify_error = "no certificate";
    f.verify_code = X509_V_ERR_UNSPECIFIED;
  } else if (!ca_error.empty()) {
    f.verify_error = ca_error;
    f.verify_code = X509_V_ERR_UNSPECIFIED;
  } else if (result != X509_V_OK) {
    f.verify_error = X509_verify_cert_error_string(result);
    f.verify_code = result;
  } else {
    f.verified = true;
    std::uint8_t usage, selector, mtype;
    if (!tlsa.empty() && SSL_get0_dane_tlsa(s.ssl, &usage, &selector, &mtype, nullptr, nullptr) >= 0)
      f.dane = std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype);
  }
  return c;
}

ssize_t TlsClient::read(char* buf, std::size_t n, int timeout) {
  ERR_clear_error();
  std::string why;
  for (;;) {
    int r = SSL_read(s_->ssl, buf, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
    if (r > 0) return r;
    if (!again(s_->ssl, s_->fd, r, timeout, why)) return errno == 0 ? 0 : -1;
  }
}

bool TlsClient::write(std::string_view data, int timeout) {
  ERR_clear_error();
  std::string why;
  while (!data.empty()) {
    int r = SSL_write(s_->ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
    if (r > 0) {
      data.remove_prefix(static_cast<std::size_t>(r));
      continue;
    }
    if (!again(s_->ssl, s_->fd, r, timeout, why)) return false;
  }
  return true;
}

void TlsClient::shutdown() {
  SSL_shutdown(s_->ssl);
  ERR_clear_error();
}

std::string describe(const TlsFacts& f) {
  return "TLS " + f.version + " " + f.cipher +
         (!f.dane.empty() ? ", certificate verified by DANE TLSA " + f.dane
          : f.verified    ? ", certificate verified"
                          : ", certificate not verified: " + f.verify_error);
}

const char* report_result(const TlsFacts& f) {
  if (f.verified) return "success";
  switch (f.verify_code) {
    case X509_V_ERR_HOSTNAME_MISMATCH: return "certificate-host-mismatch";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate-expired";
    case X509_V_ERR_DANE_NO_MATCH: return "validation-failure";
  }
  return "certificate-not-trusted";
}

}  // namespace postern::remote
