// Unit tests for what remote reads for MTA-STS (src/remote/sts_policy.cpp)
// and DANE (src/remote/dane.cpp): the policy file and TXT record of RFC
// 8461 as its examples write them, what makes them no policy, how MX
// patterns match, and which TLSA records RFC 7672 lets SMTP use.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "remote/dane.hpp"
#include "remote/sts_policy.hpp"
#include "remote/tls_policy.hpp"

using namespace postern::remote;

TEST_CASE("sts: the RFC's policy parses, CRLF or LF") {
  for (std::string nl : {"\n", "\r\n"}) {
    auto p = parse_sts_policy("version: STSv1" + nl + "mode: enforce" + nl + "mx: mail.example.com" + nl +
                              "mx: *.example.net" + nl + "mx: backupmx.example.com" + nl + "max_age: 604800" + nl);
    REQUIRE(p);
    CHECK(p->mode == StsPolicy::Mode::enforce);
    CHECK(p->max_age == 604800);
    CHECK(p->mx == std::vector<std::string>{"mail.example.com", "*.example.net", "backupmx.example.com"});
  }
}

TEST_CASE("sts: a policy missing a required field, or with a bad value, is none") {
  CHECK_FALSE(parse_sts_policy("mode: enforce\nmx: a.example\nmax_age: 1\n"));               // no version
  CHECK_FALSE(parse_sts_policy("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n"));
  CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n"));
  CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1\n"));             // no mx
  CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.example\n"));          // no max_age
  CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n"));
  CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n"));
  CHECK(parse_sts_policy("version: STSv1\nmode: none\nmax_age: 1\n"));                      // none needs no mx
  CHECK(parse_sts_policy("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 9\nfuture: x\n"));
  // max_age is capped at a year.
  CHECK(parse_sts_policy("version: STSv1\nmode: none\nmax_age: 9999999999\n")->max_age == 31557600);
  CHECK_FALSE(parse_sts_policy(std::string(70000, 'x')));
}

TEST_CASE("sts: a wildcard pattern matches exactly one label") {
  auto p = parse_sts_policy("version: STSv1\nmode: enforce\nmx: *.Example.NET.\nmx: mail.example.com\nmax_age: 1\n");
  REQUIRE(p);
  CHECK(sts_mx_matches(*p, "mx1.example.net"));
  CHECK(sts_mx_matches(*p, "MX1.example.net."));
  CHECK_FALSE(sts_mx_matches(*p, "a.mx1.example.net"));
  CHECK_FALSE(sts_mx_matches(*p, "example.net"));
  CHECK(sts_mx_matches(*p, "mail.example.com"));
  CHECK_FALSE(sts_mx_matches(*p, "mail.example.com.evil.test"));
  CHECK_FALSE(sts_mx_matches(*p, "xmail.example.com"));
}

TEST_CASE("sts: the TXT record: v first, an id of letters and digits, exactly one record") {
  CHECK(sts_record_id("v=STSv1; id=20160831085700Z;") == "20160831085700Z");
  CHECK(sts_record_id("v=STSv1;id=abc") == "abc");
  CHECK_FALSE(sts_record_id("id=abc; v=STSv1;"));
  CHECK_FALSE(sts_record_id("v=STSv1;"));
  CHECK_FALSE(sts_record_id("v=STSv1; id=a-b;"));
  CHECK_FALSE(sts_record_id("v=STSv1; id=" + std::string(33, 'a')));
  CHECK(sts_id_of({"v=spf1 -all", "v=STSv1; id=1;"}) == "1");
  CHECK_FALSE(sts_id_of({"v=STSv1; id=1;", "v=STSv1; id=2;"}));
  CHECK_FALSE(sts_id_of({}));
}

TEST_CASE("dane: only DANE-TA and DANE-EE records of the right length are usable") {
  auto rec = [](int u, int s, int m, std::size_t n) {
    return parse_tlsa(std::string{static_cast<char>(u), static_cast<char>(s), static_cast<char>(m)} +
                      std::string(n, '\x5a'));
  };
  CHECK(usable_for_smtp(*rec(3, 1, 1, 32)));
  CHECK(usable_for_smtp(*rec(2, 0, 2, 64)));
  CHECK(usable_for_smtp(*rec(2, 0, 0, 400)));
  CHECK_FALSE(usable_for_smtp(*rec(1, 1, 1, 32)));  // PKIX-EE: not for SMTP (RFC 7672 3.1.3)
  CHECK_FALSE(usable_for_smtp(*rec(0, 0, 1, 32)));
  CHECK_FALSE(usable_for_smtp(*rec(3, 1, 1, 31)));
  CHECK_FALSE(usable_for_smtp(*rec(3, 2, 1, 32)));
  CHECK_FALSE(usable_for_smtp(*rec(3, 1, 3, 32)));
  CHECK_FALSE(usable_for_smtp(*rec(3, 0, 0, 0)));
  CHECK_FALSE(parse_tlsa("\x03\x01"));
  CHECK(tlsa_label(*rec(3, 1, 1, 32)) == "3 1 1");
}

TEST_CASE("tls policy: dane is a level of its own, between may and encrypt") {
  auto r = tls_policy_from_lines({". dane"}, "example.org");
  REQUIRE(r.ok);
  CHECK(r.policy.level == TlsLevel::dane);
  CHECK(std::string(level_name(TlsLevel::dane)) == "dane");
  CHECK_FALSE(tls_policy_from_lines({". dane match=x.example"}, "example.org").ok);
}
