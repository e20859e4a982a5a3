// dkim_verify: see dkim_verify.hpp.
#include "dkim_verify.hpp"

#include "mail/dkim_library.hpp"

namespace postern::authcheck {

namespace {

// A message may carry any number of signatures, each a DNS look-up and a
// verification: the ones after the first max_signatures are ignored.
DKIM_CBSTAT prescreen(DKIM*, DKIM_SIGINFO** sigs, int nsigs) {
  for (int i = static_cast<int>(DkimVerifier::max_signatures); i < nsigs; ++i) dkim_sig_ignore(sigs[i]);
  return DKIM_CBSTAT_CONTINUE;
}

std::string algorithm_name(DKIM_SIGINFO* sig) {
  dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
  if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK) return {};
  switch (alg) {
    case DKIM_SIGN_RSASHA1: return "rsa-sha1";
    case DKIM_SIGN_RSASHA256: return "rsa-sha256";
    case DKIM_SIGN_ED25519SHA256: return "ed25519-sha256";
    default: return {};
  }
}

std::string text(const unsigned char* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

}  // namespace

DkimVerifier::DkimVerifier() : lib_(dkim_init(nullptr, nullptr)) {
  if (!lib_) return;
  unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
  unsigned int timeout = 10;  // seconds a key look-up may take
  dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
  dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &timeout, sizeof timeout);
  dkim_set_prescreen(lib_, prescreen);
  DKIM_STAT status = DKIM_STAT_OK;
  handle_ = dkim_verify(lib_, reinterpret_cast<const unsigned char*>("authcheck"), nullptr, &status);
}

DkimVerifier::~DkimVerifier() {
  if (handle_) dkim_free(handle_);
  if (lib_) dkim_close(lib_);
}

void DkimVerifier::feed(std::string_view bytes) {
  if (!handle_ || broken_ || unsigned_) return;
  DKIM_STAT st = dkim_chunk(handle_, reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data())), bytes.size());
  // At the header's end libopendkim says whether there is any signature;
  // a message it cannot parse (a malformed DKIM-Signature, a header too
  // odd for it) has none that can pass.
  if (st == DKIM_STAT_NOSIG) unsigned_ = true;
  else if (st != DKIM_STAT_OK) broken_ = true;
}

std::vector<DkimResult> DkimVerifier::finish() {
  std::vector<DkimResult> out;
  if (!handle_ || unsigned_) return out;
  if (!broken_) {
    DKIM_STAT st = dkim_chunk(handle_, nullptr, 0);
    if (st == DKIM_STAT_NOSIG) return out;
    if (st != DKIM_STAT_OK) broken_ = true;
  }
  if (broken_) {
    // libopendkim refuses a message whose DKIM-Signature it cannot parse
    // (RFC 8601 2.7.1: permerror), or whose header it cannot.
    out.push_back({"permerror", "", "", "", "", "a signature or the header could not be parsed"});
    return out;
  }
  if (dkim_eom(handle_, nullptr) == DKIM_STAT_NOSIG) return out;
  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (dkim_getsiglist(handle_, &sigs, &nsigs) != DKIM_STAT_OK) return out;
  for (int i = 0; i < nsigs; ++i) {
    DKIM_SIGINFO* sig = sigs[i];
    unsigned int flags = dkim_sig_getflags(sig);
    if (flags & DKIM_SIGFLAG_IGNORE) continue;
    DkimResult r;
    r.domain = text(dkim_sig_getdomain(sig));
    r.selector = text(dkim_sig_getselector(sig));
    r.algorithm = algorithm_name(sig);
    char b[16];
    std::size_t blen = sizeof b;
    if (dkim_get_sigsubstring(handle_, sig, b, &blen) == DKIM_STAT_OK) r.b.assign(b, blen);
    int error = dkim_sig_geterror(sig);
    if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
      r.result = "pass";
    } else if (error == DKIM_SIGERROR_KEYFAIL) {
      r.result = "temperror";
    } else if (error == DKIM_SIGERROR_BADSIG || error == DKIM_SIGERROR_OK ||
               dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
      r.result = "fail";
    } else {
      // A signature that cannot be checked: a bad tag, no key, a revoked
      // key, a key too small (RFC 8601 2.7.1).
      r.result = "permerror";
    }
    if (r.result != "pass") {
      if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) r.comment = "body hash did not verify";
      else if (error != DKIM_SIGERROR_OK) r.comment = dkim_sig_geterrorstr(error) ? dkim_sig_geterrorstr(error) : "";
      else r.comment = "signature did not verify";
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace postern::authcheck
