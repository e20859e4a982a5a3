// Unit tests for remote's TLS policy lookup (src/remote/tls_policy.cpp)
// and EHLO extension parsing (src/remote/reply.cpp): which line of
// control/tlspolicy applies to a domain, that a broken line defers
// rather than weakens, and that STARTTLS counts only as an extension.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "remote/reply.hpp"
#include "remote/tls_policy.hpp"

using namespace postern::remote;

namespace {
TlsPolicyLookup lookup(const std::vector<std::string>& lines, const std::string& domain) {
  return tls_policy_from_lines(lines, domain);
}
}  // namespace

TEST_CASE("tls policy: no file or no matching line is may") {
  auto r = lookup({}, "example.org");
  REQUIRE(r.ok);
  CHECK(r.policy.level == TlsLevel::may);
  r = lookup({"other.org encrypt"}, "example.org");
  REQUIRE(r.ok);
  CHECK(r.policy.level == TlsLevel::may);
}

TEST_CASE("tls policy: exact beats suffix beats default, whatever the order") {
  std::vector<std::string> lines = {"example.org verify", ". encrypt", ".org none", "* none",
                                    ".example.org secure match=.example.org"};
  CHECK(lookup(lines, "example.org").policy.level == TlsLevel::verify);
  CHECK(lookup(lines, "mx.example.org").policy.level == TlsLevel::secure);
  CHECK(lookup(lines, "mx.example.org").policy.match == std::vector<std::string>{".example.org"});
  CHECK(lookup(lines, "other.org").policy.level == TlsLevel::none);
  CHECK(lookup(lines, "example.net").policy.level == TlsLevel::encrypt);
  CHECK(lookup(lines, "example.org").policy.source == "control/tlspolicy line 1");
  // A suffix never matches the bare name, nor a name that merely ends alike.
  CHECK(lookup({".example.org none"}, "example.org").policy.level == TlsLevel::may);
  CHECK(lookup({".example.org none"}, "badexample.org").policy.level == TlsLevel::may);
}

TEST_CASE("tls policy: case and white space do not matter") {
  auto r = lookup({"Example.ORG\t  VERIFY   match=MX.Example.org:.Backup.org"}, "example.org");
  REQUIRE(r.ok);
  CHECK(r.policy.level == TlsLevel::verify);
  CHECK(r.policy.match == std::vector<std::string>{"mx.example.org", ".backup.org"});
}

TEST_CASE("tls policy: a broken line defers every domain") {
  for (std::string bad : {"example.org", "example.org verfy", "example.org encrypt match=x.org",
                          "example.org verify match=", "example.org verify match=*.example.org",
                          "example.org secure ciphers=high", "example.org verify match=a..b"}) {
    auto r = lookup({"other.org none", bad}, "other.org");
    INFO(bad);
    CHECK_FALSE(r.ok);
    CHECK(r.why.find("control/tlspolicy line 2") != std::string::npos);
    CHECK(r.why.find("(#4.3.5)") != std::string::npos);
  }
}

TEST_CASE("ehlo: extensions after the first line only") {
  Reply r;
  r.code = 250;
  r.lines = {"size 1000", "PIPELINING", "8BITMIME", " StartTLS "};
  auto e = parse_ehlo(r);
  CHECK(e.starttls);
  CHECK(e.pipelining);
  CHECK(e.eight_bit);
  CHECK(e.max_size == 0);  // "size 1000" is the greeting line: the server's name
  r.lines = {"STARTTLS"};
  e = parse_ehlo(r);
  CHECK_FALSE(e.starttls);
  r.lines = {"mx", "SIZE 1000", "SIZE", "STARTTLS x"};
  e = parse_ehlo(r);
  CHECK(e.max_size == 1000);
  CHECK_FALSE(e.starttls);
  r.lines = {"mx", "SIZE 99999999999999999999999"};
  CHECK(parse_ehlo(r).max_size == 0);
}
