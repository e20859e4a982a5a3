// Fuzz target: what remote reads for MTA-STS and DANE from DNS and HTTPS
// (src/remote/sts_policy.cpp, src/remote/dane.cpp): the first byte picks
// the parser, the rest is its input.
//   0  the policy file served at https://mta-sts.DOMAIN/ (parse_sts_policy)
//   1  one TXT record's text at _mta-sts.DOMAIN (sts_record_id)
//   2  a DNS answer's TXT records, wire form (mail/dns_txt parse_answer)
//   3  one TLSA record's rdata (parse_tlsa, usable_for_smtp)
// Checks: a policy's patterns are lower case with no empty label and its
// max_age at most a year; a policy that is not "none" names an MX; an id
// is 1 to 32 letters and digits; a usable TLSA record has usage 2 or 3,
// selector 0 or 1 and data of the length its matching type needs; a
// matching host matches again in upper case. ASan sees any read outside.
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common.hpp"
#include "mail/dns_txt.hpp"
#include "remote/dane.hpp"
#include "remote/sts_policy.hpp"

using namespace postern::remote;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto p = parse_sts_policy(input);
      if (!p) return 0;
      FUZZ_CHECK(p->max_age >= 0 && p->max_age <= 31557600, input);
      FUZZ_CHECK(p->mode == StsPolicy::Mode::none || !p->mx.empty(), input);
      for (auto& m : p->mx) {
        FUZZ_CHECK(!m.empty() && m.find("..") == std::string::npos && m.back() != '.', m);
        for (char c : m) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)), m);
        if (m.compare(0, 2, "*.") != 0) {
          FUZZ_CHECK(sts_mx_matches(*p, m), m);
          std::string upper = m;
          for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          FUZZ_CHECK(sts_mx_matches(*p, upper + "."), m);
        }
      }
      break;
    }
    case 1: {
      auto id = sts_record_id(input);
      if (!id) return 0;
      FUZZ_CHECK(!id->empty() && id->size() <= 32, *id);
      for (char c : *id) FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)), *id);
      break;
    }
    case 2: {
      // A copy of exactly the input's size, so any read past it is seen.
      std::unique_ptr<unsigned char[]> buf(new unsigned char[input.size() ? input.size() : 1]);
      if (!input.empty()) std::memcpy(buf.get(), input.data(), input.size());
      auto txts = postern::dns_txt::parse_answer(buf.get(), static_cast<int>(input.size()));
      if (!txts) return 0;
      for (auto& t : *txts) FUZZ_CHECK(t.size() < 65536, t);
      sts_id_of(*txts);
      break;
    }
    case 3: {
      auto t = parse_tlsa(input);
      FUZZ_CHECK(t.has_value() == (input.size() >= 3), input);
      if (!t || !usable_for_smtp(*t)) return 0;
      FUZZ_CHECK(t->usage == 2 || t->usage == 3, input);
      FUZZ_CHECK(t->selector <= 1, input);
      FUZZ_CHECK((t->mtype == 0 && !t->data.empty()) || (t->mtype == 1 && t->data.size() == 32) ||
                     (t->mtype == 2 && t->data.size() == 64),
                 input);
      break;
    }
  }
  return 0;
}
