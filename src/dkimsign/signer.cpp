// signer: see signer.hpp.
#include "signer.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cerrno>
#include <cstring>

#include "base/io.hpp"
#include "mail/dkim_library.hpp"

namespace postern::dkimsign {

namespace {

// Which algorithm the PEM key in text is for; DKIM_SIGN_UNKNOWN when it is
// neither an RSA nor an Ed25519 private key.
dkim_alg_t algorithm_of(const std::string& text, std::string& kind) {
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return DKIM_SIGN_UNKNOWN;
  dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    alg = DKIM_SIGN_RSASHA256;
    kind = "RSA";
  } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    alg = DKIM_SIGN_ED25519SHA256;
    kind = "Ed25519";
  }
  EVP_PKEY_free(key);
  return alg;
}

std::string error_of(DKIM* d, DKIM_STAT status) {
  const char* detail = d ? dkim_geterror(d) : nullptr;
  return detail && *detail ? detail : dkim_getresultstr(status);
}

}  // namespace

Signer::Signer() : lib_(dkim_init(nullptr, nullptr)) {
  if (!lib_) return;
  // Messages reach the queue with LF line ends; DKIM hashes CRLF.
  unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
  // A header list goes in as the array itself, its size as a pointer's.
  static const char* oversign[] = {"from", nullptr};
  if (dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
      dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign, sizeof(char**)) != DKIM_STAT_OK) {
    dkim_close(lib_);
    lib_ = nullptr;
  }
}

Signer::~Signer() {
  for (auto* h : handles_) dkim_free(h);
  if (lib_) dkim_close(lib_);
}

bool Signer::add(const dkim_keys::Key& key, std::string& why) {
  if (!lib_) {
    why = "unable to start libopendkim, or to set its options";
    return false;
  }
  std::string path = dkim_keys::key_path(key);
  auto text = read_file(path, 64 * 1024);
  if (!text) {
    why = "unable to read the key " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string kind;
  dkim_alg_t alg = algorithm_of(*text, kind);
  DKIM_STAT status = DKIM_STAT_OK;
  DKIM* d = nullptr;
  if (alg != DKIM_SIGN_UNKNOWN) {
    auto* secret = reinterpret_cast<unsigned char*>(text->data());
    d = dkim_sign(lib_, reinterpret_cast<const unsigned char*>("dkimsign"), nullptr, secret,
                  reinterpret_cast<const unsigned char*>(key.selector.c_str()),
                  reinterpret_cast<const unsigned char*>(key.domain.c_str()), DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
                  alg, -1, &status);
  }
  sodium_memzero(text->data(), text->size());
  if (alg == DKIM_SIGN_UNKNOWN) {
    why = path + " holds no RSA or Ed25519 private key in PEM form";
    return false;
  }
  if (!d) {
    why = "unable to sign with " + path + ": " + error_of(nullptr, status);
    return false;
  }
  handles_.push_back(d);
  return true;
}

bool Signer::feed(std::string_view bytes, std::string& why) {
  for (auto* h : handles_) {
    DKIM_STAT st = dkim_chunk(h, reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data())), bytes.size());
    if (st != DKIM_STAT_OK) {
      why = "libopendkim refused the message: " + error_of(h, st);
      return false;
    }
  }
  return true;
}

std::string Signer::finish(std::string& why) {
  std::string fields;
  for (auto* h : handles_) {
    DKIM_STAT st = dkim_chunk(h, nullptr, 0);
    if (st == DKIM_STAT_OK) st = dkim_eom(h, nullptr);
    unsigned char* value = nullptr;
    std::size_t len = 0;
    const std::string name = "DKIM-Signature: ";
    if (st == DKIM_STAT_OK) st = dkim_getsighdr_d(h, name.size(), &value, &len);
    if (st != DKIM_STAT_OK || !value) {
      why = "unable to sign the message: " + error_of(h, st);
      return {};
    }
    std::string field = name;
    for (std::size_t i = 0; i < len; ++i)
      if (value[i] != '\r') field += static_cast<char>(value[i]);
    fields += field + "\n";
  }
  return fields;
}

}  // namespace postern::dkimsign
