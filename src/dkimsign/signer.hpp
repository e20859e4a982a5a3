// signer: DKIM signatures (RFC 6376; Ed25519 per RFC 8463) of one message
// by libopendkim, which does the canonicalisation, hashing and signing.
// One signature a key, all made in one pass over the message; relaxed
// canonicalisation of header and body, the library's recommended header
// fields, and From: signed once more than it appears, so that a From:
// added on the way cannot pass as the signed one. The key files are
// trusted (root's choice, the DKIM user's files); the message is not, and
// is only hashed.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mail/dkim_keys.hpp"

struct dkim_lib;
struct dkim;

namespace postern::dkimsign {

class Signer {
 public:
  Signer();
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Reads key's file and prepares a signature with it (RSA-SHA256 or
  // Ed25519-SHA256, as the key is). False, with why, when the key cannot
  // be read or used.
  bool add(const dkim_keys::Key& key, std::string& why);
  bool empty() const { return handles_.empty(); }
  // The message, in pieces, with LF or CRLF line ends.
  bool feed(std::string_view bytes, std::string& why);
  // The DKIM-Signature fields, each folded with LF and ending in LF, in the
  // order the keys were added; "" with why on failure.
  std::string finish(std::string& why);

 private:
  dkim_lib* lib_ = nullptr;
  std::vector<dkim*> handles_;
};

}  // namespace postern::dkimsign
