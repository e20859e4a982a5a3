// keypair: see keypair.hpp.
#include "keypair.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <memory>
#include <vector>

namespace postern::dkimkey {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

std::string base64(const unsigned char* data, std::size_t len) {
  std::string out(sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

}  // namespace

std::optional<std::string> make_private(Kind kind, unsigned bits) {
  Pkey key(kind == Kind::rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits))
                             : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return std::nullopt;
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return std::nullopt;
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return std::nullopt;
  std::string pem(data, static_cast<std::size_t>(len));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return pem;
}

std::optional<Public> public_of(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return std::nullopt;
  Public pub;
  pub.bits = static_cast<unsigned>(EVP_PKEY_get_bits(key.get()));
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
    // p= is the DER SubjectPublicKeyInfo, as OpenDKIM publishes it.
    int len = i2d_PUBKEY(key.get(), nullptr);
    if (len <= 0) return std::nullopt;
    std::vector<unsigned char> der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    if (i2d_PUBKEY(key.get(), &p) != len) return std::nullopt;
    pub.kind = "rsa";
    pub.key = base64(der.data(), der.size());
  } else if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key.get(), raw, &len) != 1 || len != sizeof raw) return std::nullopt;
    pub.kind = "ed25519";
    pub.key = base64(raw, len);
  } else {
    return std::nullopt;
  }
  return pub;
}

std::string record_text(const Public& pub) {
  return "v=DKIM1; k=" + pub.kind + "; p=" + pub.key;
}

std::string zone_line(const std::string& name, const std::string& text) {
  std::string line = name + " IN TXT (";
  for (std::size_t at = 0; at < text.size(); at += 250) line += " \"" + text.substr(at, 250) + "\"";
  return line + " )";
}

}  // namespace postern::dkimkey
