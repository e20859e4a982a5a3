// Fuzz target: what authcheck takes from an untrusted message and puts
// into a header field (src/authcheck/verdict, src/lib/mail/author_domain):
// the author domain of a header, the removal of forged
// Authentication-Results fields, and the field written from names a
// sender chose (domains, selectors, the MAIL FROM address). Input: any
// bytes, as a header and as those names. Checks: removal only removes
// (every line it keeps is one of the input's, in order) and is idempotent;
// the field written is one field: it starts with its name, every line
// after the first is a continuation, and it holds no control bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include "authcheck/verdict.hpp"
#include "common.hpp"
#include "mail/author_domain.hpp"

using namespace postern;
using namespace postern::authcheck;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);

  std::string domain = author_domain(in);
  for (char c : domain) FUZZ_CHECK(c != '\n' && c != '\r', domain);

  std::string kept = without_forged_results(in, "mx.test");
  FUZZ_CHECK(kept.size() <= in.size(), kept);
  FUZZ_CHECK(without_forged_results(kept, "mx.test") == kept, kept);
  std::size_t at = 0;
  for (std::size_t i = 0; i < kept.size();) {
    std::size_t end = kept.find('\n', i);
    end = end == std::string::npos ? kept.size() : end + 1;
    std::string line = kept.substr(i, end - i);
    at = in.find(line, at);
    FUZZ_CHECK(at != std::string::npos, line);
    at += line.size();
    i = end;
  }

  Results r;
  std::string third = in.substr(0, in.size() / 3);
  r.sender = third;
  r.helo = in.substr(in.size() / 3, in.size() / 3);
  r.spf_mailfrom.comment = in;
  r.dkim.push_back({"fail", third, in.substr(in.size() / 3), "rsa-sha256", third, in});
  r.dmarc.domain = domain.empty() ? in : domain;
  r.dmarc.result = "fail";
  r.dmarc.policy = 'r';
  std::string field = authentication_results(in.substr(0, 64), r);
  FUZZ_CHECK(field.starts_with("Authentication-Results: ") && field.ends_with("\n"), field);
  for (std::size_t i = 0; i + 1 < field.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(field[i]);
    FUZZ_CHECK(c == '\n' ? field[i + 1] == '\t' : (c == '\t' || (c >= 32 && c < 127)), field);
  }
  return 0;
}
