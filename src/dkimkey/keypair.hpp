// keypair: DKIM key pairs by OpenSSL: making one, and the public half as
// the DNS TXT record a receiver looks up (RFC 6376 3.6.1; RFC 8463 for
// Ed25519, whose p= is the bare 32-byte key). Private keys are PEM
// (PKCS#8), which dkimsign and OpenDKIM both read.
#pragma once
#include <optional>
#include <string>

namespace postern::dkimkey {

enum class Kind { rsa, ed25519 };

// A new private key in PEM; nullopt when OpenSSL fails.
std::optional<std::string> make_private(Kind kind, unsigned bits);

struct Public {
  std::string kind;  // "rsa" or "ed25519", as k= names it
  unsigned bits = 0;
  std::string key;   // p=, base64
};

// The public half of a PEM private key; nullopt if it is not an RSA or
// Ed25519 private key.
std::optional<Public> public_of(const std::string& pem);

// The TXT record's text: "v=DKIM1; k=...; p=..."
std::string record_text(const Public& pub);

// The record as a zone file line: NAME IN TXT ( "..." "..." ), the text cut
// in strings of at most 250 bytes (a DNS string holds 255).
std::string zone_line(const std::string& name, const std::string& text);

}  // namespace postern::dkimkey
