// dkim_verify: checks every DKIM signature of a message (RFC 6376; Ed25519
// per RFC 8463) with libopendkim, which parses the signatures, fetches the
// keys from DNS and does the canonicalisation and the cryptography. The
// message is untrusted; what comes back is only what the header needs.
#pragma once
#include <string>
#include <string_view>
#include <vector>

struct dkim_lib;
struct dkim;

namespace postern::authcheck {

struct DkimResult {
  std::string result;     // pass fail neutral policy temperror permerror
  std::string domain;     // d=
  std::string selector;   // s=
  std::string algorithm;  // rsa-sha256, ed25519-sha256, ...
  std::string b;          // the first characters of b= (RFC 6008), to tell signatures apart
  std::string comment;    // why it failed, in libopendkim's words
};

class DkimVerifier {
 public:
  DkimVerifier();
  ~DkimVerifier();
  DkimVerifier(const DkimVerifier&) = delete;
  DkimVerifier& operator=(const DkimVerifier&) = delete;

  // The message, in pieces, LF or CRLF line ends.
  void feed(std::string_view bytes);
  // One result a signature, in the message's order; empty when there is
  // none (dkim=none). At most max_signatures are checked.
  std::vector<DkimResult> finish();

  static constexpr unsigned max_signatures = 8;

 private:
  dkim_lib* lib_ = nullptr;
  dkim* handle_ = nullptr;
  bool broken_ = false;
  bool unsigned_ = false;  // the header ended without a signature
};

}  // namespace postern::authcheck
