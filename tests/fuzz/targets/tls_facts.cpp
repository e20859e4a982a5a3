// Fuzz target: the facts packet tlsd sends the protocol program
// (tls::parse_facts in src/lib/base/tls_channel). Input: one packet.
// Checks: accepted facts hold only printable values (spaces only in the
// certificate names), within the packet's bound; written out again as
// tlsd writes them they parse to the same facts; a "verified" peer has a
// certificate.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/tls_channel.hpp"
#include "common.hpp"

using namespace postern;

namespace {

bool printable(const std::string& v, bool spaces) {
  for (unsigned char c : v)
    if (c < 32 || c > 126 || (c == ' ' && !spaces)) return false;
  return true;
}

std::string write_facts(const tls::Facts& f) {
  std::string p = "ok\nversion=" + f.version + "\ncipher=" + f.cipher + "\nbits=" + std::to_string(f.bits) +
                  "\nsni=" + f.sni + "\nresumed=" + (f.resumed ? "yes" : "no") + "\n";
  if (f.peer_cert)
    p += "peer_subject=" + f.peer_subject + "\npeer_issuer=" + f.peer_issuer + "\npeer_fingerprint=" +
         f.peer_fingerprint + "\npeer_verified=" + (f.peer_verified ? "yes" : "no") + "\n";
  return p;
}

bool same(const tls::Facts& a, const tls::Facts& b) {
  return a.version == b.version && a.cipher == b.cipher && a.sni == b.sni && a.peer_subject == b.peer_subject &&
         a.peer_issuer == b.peer_issuer && a.peer_fingerprint == b.peer_fingerprint && a.bits == b.bits &&
         a.resumed == b.resumed && a.peer_verified == b.peer_verified && a.peer_cert == b.peer_cert;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto f = tls::parse_facts(in);
  if (!f) return 0;
  FUZZ_CHECK(in.size() <= tls::max_packet && in.starts_with("ok"), in);
  FUZZ_CHECK(printable(f->version, false) && printable(f->cipher, false) && printable(f->sni, false) &&
                 printable(f->peer_fingerprint, false),
             in);
  FUZZ_CHECK(printable(f->peer_subject, true) && printable(f->peer_issuer, true), in);
  FUZZ_CHECK(f->bits >= 0 && (!f->peer_verified || f->peer_cert), in);
  std::string again = write_facts(*f);
  if (again.size() <= tls::max_packet) {
    auto g = tls::parse_facts(again);
    FUZZ_CHECK(g && same(*f, *g), in);
  }
  (void)tls::describe(*f);
  return 0;
}
