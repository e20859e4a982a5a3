// Unit tests for TLS-RPT (RFC 8460): the rua= destinations of a domain's
// record (src/tlsrpt/rua.cpp), remote's session lines
// (mail/tls_report_log) and the JSON report tlsrpt sums them into
// (src/tlsrpt/report.cpp), against the RFC's own examples.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mail/tls_report_log.hpp"
#include "tlsrpt/report.hpp"
#include "tlsrpt/rua.hpp"

using namespace postern;
using namespace postern::tlsrpt;

TEST_CASE("tlsrpt: the RFC's records give their destinations") {
  auto r = parse_rua_record("v=TLSRPTv1;rua=mailto:reports@example.com");
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].kind == Rua::Kind::mail);
  CHECK((*r)[0].target == "reports@example.com");
  r = parse_rua_record("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt");
  REQUIRE(r);
  CHECK((*r)[0].kind == Rua::Kind::https);
  CHECK((*r)[0].target == "https://reporting.example.com/v1/tlsrpt");
  r = parse_rua_record("v=TLSRPTv1; rua=mailto:tls%2Brpt@example.com?subject=x, https://r.example/x");
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].target == "tls+rpt@example.com");
}

TEST_CASE("tlsrpt: what is no record, and destinations that are dropped") {
  CHECK_FALSE(parse_rua_record("rua=mailto:a@example.com; v=TLSRPTv1"));
  CHECK_FALSE(parse_rua_record("v=TLSRPTv1;"));
  CHECK(parse_rua_record("v=TLSRPTv1; rua=http://plain.example/,ftp://x,mailto:nodomain,mailto:a%0d@x.example")
            ->empty());
  CHECK(rua_of({"v=TLSRPTv1; rua=mailto:a@example.com", "v=spf1 -all"}).size() == 1);
  CHECK(rua_of({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"}).empty());
  std::string many = "v=TLSRPTv1; rua=";
  for (int i = 0; i < 20; ++i) many += "mailto:a" + std::to_string(i) + "@example.com,";
  CHECK(parse_rua_record(many)->size() == 10);
}

TEST_CASE("tls report log: a line decodes to what was encoded, and bytes from the network are neutralised") {
  tls_report::Session s{"sts", {"version: STSv1", "mode: enforce", "mx: *.example.com", "max_age: 86400"},
                        "certificate-host-mismatch", "mx.example.com", "192.0.2.1", "hostname\tmismatch\n|x"};
  auto line = tls_report::encode(s);
  CHECK(line.find('\n') == std::string::npos);
  auto back = tls_report::decode(line);
  REQUIRE(back);
  CHECK(back->policy == s.policy);
  CHECK(back->result == s.result);
  CHECK(back->reason == "hostname mismatch  x");
  CHECK_FALSE(tls_report::decode("sts\tunheard-of\tmx\tip\t\t"));
  CHECK_FALSE(tls_report::decode("smtp\tsuccess\tmx\tip\t\t"));
  CHECK_FALSE(tls_report::decode("sts\tsuccess\tmx"));
}

TEST_CASE("tlsrpt: the report counts sessions per policy and groups the failures") {
  std::vector<std::string> policy = {"version: STSv1", "mode: enforce", "mx: mx1.example.com", "max_age: 86400"};
  std::vector<tls_report::Session> sessions = {
      {"sts", policy, "success", "mx1.example.com", "192.0.2.1", ""},
      {"sts", policy, "success", "mx1.example.com", "192.0.2.1", ""},
      {"sts", policy, "certificate-expired", "mx1.example.com", "192.0.2.1", "certificate has expired"},
      {"sts", policy, "certificate-expired", "mx1.example.com", "192.0.2.1", "certificate has expired"},
      {"tlsa", {"3 1 1 aabb"}, "success", "mx2.example.com", "2001:db8::2", ""},
  };
  ReportInfo info{"mail.example.net", "postmaster@mail.example.net", "example.com", 1764547200, "r1@mail.example.net"};
  auto j = nlohmann::json::parse(report_json(info, sessions));
  CHECK(j["organization-name"] == "mail.example.net");
  CHECK(j["date-range"]["start-datetime"] == "2025-12-01T00:00:00Z");
  CHECK(j["date-range"]["end-datetime"] == "2025-12-01T23:59:59Z");
  CHECK(j["report-id"] == "r1@mail.example.net");
  REQUIRE(j["policies"].size() == 2);
  auto& sts = j["policies"][0];
  CHECK(sts["policy"]["policy-type"] == "sts");
  CHECK(sts["policy"]["mx-host"] == nlohmann::json::array({"mx1.example.com"}));
  CHECK(sts["summary"]["total-successful-session-count"] == 2);
  CHECK(sts["summary"]["total-failure-session-count"] == 2);
  REQUIRE(sts["failure-details"].size() == 1);
  CHECK(sts["failure-details"][0]["failed-session-count"] == 2);
  CHECK(sts["failure-details"][0]["result-type"] == "certificate-expired");
  auto& tlsa = j["policies"][1];
  CHECK(tlsa["policy"]["policy-string"] == nlohmann::json::array({"3 1 1 aabb"}));
  CHECK_FALSE(tlsa.contains("failure-details"));
  CHECK(file_name(info) == "mail.example.net!example.com!1764547200!1764633599!r1.json.gz");
  CHECK(gzip("x").substr(0, 2) == std::string("\x1f\x8b"));
}
