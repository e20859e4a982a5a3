// certificates: tlsd's server contexts. Reads control/tls/default.pem (or
// NAME.pem for an SNI name) at each connection, so a renewed file is used
// by the next connection, and the policy control files (tlsprotocols,
// tlsciphers, tlsciphersuites). Trusts those files (root's and the TLS
// user's); trusts nothing the client sends: the SNI name only selects a
// file after it is checked to be a plain host name. A policy file that
// OpenSSL refuses is logged and the default used: a typo must neither
// stop mail nor weaken TLS below the default.
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "tlsd.hpp"

namespace postern::tlsd {

namespace {

// TLS 1.2: ECDHE key exchange and AEAD ciphers only.
constexpr const char* default_ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr const char* default_suites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

SSL_CTX* first_context = nullptr;
std::string sni_name;

// Every word of a control file's lines, joined by sep.
std::string joined(const std::vector<std::string>& lines, char sep) {
  std::string out;
  for (const auto& l : lines) {
    std::istringstream words(l);
    std::string w;
    while (words >> w) {
      if (!out.empty()) out += sep;
      out += w;
    }
  }
  return out;
}

void set_protocols(SSL_CTX* ctx) {
  int lo = TLS1_3_VERSION, hi = TLS1_2_VERSION;
  auto lines = control::lines("tlsprotocols");
  std::string words = lines ? joined(*lines, ' ') : "";
  std::istringstream in(words);
  std::string w;
  while (in >> w) {
    int v = w == "TLSv1.2" ? TLS1_2_VERSION : w == "TLSv1.3" ? TLS1_3_VERSION : 0;
    if (v == 0) {
      log::line("control/tlsprotocols: ignoring {} (only TLSv1.2 and TLSv1.3 are accepted)", w);
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) lo = TLS1_2_VERSION, hi = TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, lo);
  SSL_CTX_set_max_proto_version(ctx, hi);
}

void set_ciphers(SSL_CTX* ctx) {
  auto c = control::lines("tlsciphers");
  std::string list = c ? joined(*c, ':') : "";
  if (list.empty() || SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    if (!list.empty()) log::line("control/tlsciphers: OpenSSL refuses {}; using the default", list);
    SSL_CTX_set_cipher_list(ctx, default_ciphers);
  }
  auto s = control::lines("tlsciphersuites");
  std::string suites = s ? joined(*s, ':') : "";
  if (suites.empty() || SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) {
    if (!suites.empty()) log::line("control/tlsciphersuites: OpenSSL refuses {}; using the default", suites);
    SSL_CTX_set_ciphersuites(ctx, default_suites);
  }
  ERR_clear_error();
}

// The client certificate is asked for, never required: the handshake goes
// on whatever it sends, and the facts say whether it verified.
int accept_any(int, X509_STORE_CTX*) { return 1; }

void ask_client_certificate(SSL_CTX* ctx) {
  std::string ca = certificate_dir() + "/clientca.pem";
  struct stat st {};
  if (::stat(ca.c_str(), &st) != 0) return;
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
  if (!names || SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
    log::line("control/tls/clientca.pem: cannot use it: {}", openssl_error());
    if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
    return;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
}

// A name that may become a file name: a host name, lower case.
bool plain_host_name(const std::string& n) {
  if (n.empty() || n.size() > 253 || n.front() == '.' || n.find("..") != std::string::npos) return false;
  if (n == "default" || n == "clientca") return false;
  return std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

int on_servername(SSL* ssl, int*, void*) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  sni_name = name;
  std::transform(sni_name.begin(), sni_name.end(), sni_name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!plain_host_name(sni_name)) return SSL_TLSEXT_ERR_OK;
  std::string pem = certificate_dir() + "/" + sni_name + ".pem";
  struct stat st {};
  if (::stat(pem.c_str(), &st) != 0) return SSL_TLSEXT_ERR_OK;
  if (SSL_CTX* ctx = make_context(pem)) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string certificate_dir() { return conf::path("control/tls"); }
std::string default_certificate() { return certificate_dir() + "/default.pem"; }
const std::string& requested_name() { return sni_name; }

SSL_CTX* make_context(const std::string& pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    log::line("cannot make a TLS context: {}", openssl_error());
    return nullptr;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  set_protocols(ctx);
  set_ciphers(ctx);
  if (SSL_CTX_use_certificate_chain_file(ctx, pem.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, pem.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    log::line("{}: cannot use it as key and certificate chain: {}", pem, openssl_error());
    SSL_CTX_free(ctx);
    return nullptr;
  }
  static const unsigned char sid[] = "postern-tlsd";
  SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
  // Tickets carry the sessions, so no tlsd keeps a cache another cannot see.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  use_tickets(ctx);
  ask_client_certificate(ctx);
  if (!first_context) {
    first_context = ctx;
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  }
  return ctx;
}

}  // namespace postern::tlsd
