// Fuzz target: what tlsrpt reads: a domain's TLS-RPT TXT record
// (src/tlsrpt/rua.cpp, from DNS) and the session lines remote recorded
// (mail/tls_report_log, whose host names and reasons came from the
// network). The first byte picks the parser:
//   even  one TXT record's text (parse_rua_record, rua_of)
//   odd   a record file's lines (decode), summed into a report's JSON
// Checks: a mailto: destination is a valid envelope address with a
// local part and a domain, an https: one a URL of printable ASCII; at
// most ten; a decoded session encodes to the same line; the JSON report
// always comes out (the library escapes what it must) and counts every
// session once.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "common.hpp"
#include "mail/address.hpp"
#include "mail/tls_report_log.hpp"
#include "tlsrpt/report.hpp"
#include "tlsrpt/rua.hpp"

using namespace postern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto rua = tlsrpt::parse_rua_record(input);
    tlsrpt::rua_of({input});
    if (!rua) return 0;
    FUZZ_CHECK(rua->size() <= 10, input);
    for (auto& r : *rua) {
      if (r.kind == tlsrpt::Rua::Kind::mail) {
        FUZZ_CHECK(valid_envelope_address(r.target), r.target);
        FUZZ_CHECK(!split_address(r.target).local.empty() && !split_address(r.target).domain.empty(), r.target);
      } else {
        FUZZ_CHECK(lower(r.target.substr(0, 8)) == "https://" && r.target.size() > 8, r.target);
        for (char c : r.target) FUZZ_CHECK(c > 32 && c < 127, r.target);
      }
    }
    return 0;
  }
  std::vector<tls_report::Session> sessions;
  for (auto& line : split(input, '\n')) {
    auto s = tls_report::decode(line);
    if (!s) continue;
    FUZZ_CHECK(tls_report::decode(tls_report::encode(*s)).has_value(), line);
    FUZZ_CHECK(tls_report::encode(*tls_report::decode(tls_report::encode(*s))) == tls_report::encode(*s), line);
    sessions.push_back(*s);
  }
  tlsrpt::ReportInfo info{"me.example", "postmaster@me.example", "example.org", 0, "id@me.example"};
  auto report = nlohmann::json::parse(tlsrpt::report_json(info, sessions));
  long counted = 0;
  for (auto& p : report["policies"])
    counted += p["summary"]["total-successful-session-count"].get<long>() +
               p["summary"]["total-failure-session-count"].get<long>();
  FUZZ_CHECK(counted == static_cast<long>(sessions.size()), input);
  return 0;
}
