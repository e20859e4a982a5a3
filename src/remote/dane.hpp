// dane: the TLSA records (RFC 6698) of one SMTP server, as RFC 7672 uses
// them: looked up through the validating resolver and used only when the
// answer is secure. Trusts nothing in the answer: each record is checked
// for its form before OpenSSL sees it, and only the usages RFC 7672 allows
// for SMTP (DANE-TA(2), DANE-EE(3)) are returned as usable.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::remote {

class DnssecResolver;

struct Tlsa {
  std::uint8_t usage = 0;     // 2 DANE-TA, 3 DANE-EE
  std::uint8_t selector = 0;  // 0 the whole certificate, 1 its public key
  std::uint8_t mtype = 0;     // 0 the data itself, 1 SHA-256, 2 SHA-512
  std::string data;
};

// One TLSA record's rdata; nullopt when it is too short to be one.
std::optional<Tlsa> parse_tlsa(std::string_view rdata);

// True for a record RFC 7672 lets SMTP use: usage 2 or 3, selector 0 or
// 1, matching type 0, 1 or 2, with data of the length that type needs.
bool usable_for_smtp(const Tlsa& t);

struct DaneLookup {
  // none: no secure TLSA records (DANE does not apply to the host);
  // records: secure ones exist (TLS is mandatory; `usable` may be empty,
  // and then the TLS is not authenticated, RFC 7672 2.2); failed: the
  // lookup was bogus or got no answer, so the host must not be used now.
  enum class Result { none, records, failed } result = Result::none;
  std::vector<Tlsa> usable;
  std::string why;  // failed: in words
};

// The TLSA records of _PORT._tcp.HOST.
DaneLookup dane_lookup(DnssecResolver& resolver, const std::string& host, int port);

// "3 1 1" for result texts.
std::string tlsa_label(const Tlsa& t);

}  // namespace postern::remote
