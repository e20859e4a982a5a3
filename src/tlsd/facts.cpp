// facts: what tlsd tells the protocol program about a finished handshake,
// in the packet tls_channel.hpp parses: "ok" and key=value lines, at most
// 4096 bytes. Every value comes from OpenSSL or from the client (SNI name,
// certificate names) and is made printable here: control bytes become '?',
// and spaces too except inside the certificate names.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

#include "tlsd.hpp"

namespace postern::tlsd {

namespace {

std::string clean(std::string_view v, bool spaces, std::size_t max) {
  std::string out;
  for (unsigned char c : v.substr(0, max)) {
    bool ok = c > 32 && c < 127;
    out += ok || (c == ' ' && spaces) ? static_cast<char>(c) : '?';
  }
  return out;
}

std::string name_of(X509_NAME* name) {
  if (!name) return "";
  BIO* b = BIO_new(BIO_s_mem());
  if (!b) return "";
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data ? data : "", n > 0 ? static_cast<std::size_t>(n) : 0);
  BIO_free(b);
  return s;
}

}  // namespace

std::string facts_packet(SSL* ssl) {
  std::string p = "ok\n";
  p += "version=" + clean(SSL_get_version(ssl), false, 32) + "\n";
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  p += "cipher=" + clean(c ? SSL_CIPHER_get_name(c) : "", false, 100) + "\n";
  p += "bits=" + std::to_string(c ? SSL_CIPHER_get_bits(c, nullptr) : 0) + "\n";
  p += "sni=" + clean(requested_name(), false, 255) + "\n";
  p += std::string("resumed=") + (SSL_session_reused(ssl) ? "yes" : "no") + "\n";
  if (X509* peer = SSL_get0_peer_certificate(ssl)) {
    p += "peer_subject=" + clean(name_of(X509_get_subject_name(peer)), true, 1000) + "\n";
    p += "peer_issuer=" + clean(name_of(X509_get_issuer_name(peer)), true, 1000) + "\n";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::string hex;
    if (X509_digest(peer, EVP_sha256(), md, &len) == 1) {
      static const char digits[] = "0123456789abcdef";
      for (unsigned i = 0; i < len; ++i) {
        hex += digits[md[i] >> 4];
        hex += digits[md[i] & 15];
      }
    }
    p += "peer_fingerprint=sha256:" + hex + "\n";
    p += std::string("peer_verified=") + (SSL_get_verify_result(ssl) == X509_V_OK ? "yes" : "no") + "\n";
  }
  return p;
}

}  // namespace postern::tlsd
