// Unit tests for src/authcheck/verdict: the Authentication-Results field,
// control/authpolicy's rules and what they decide.
#include <catch2/catch.hpp>

#include "authcheck/verdict.hpp"

using namespace postern::authcheck;

namespace {

Results sample() {
  Results r;
  r.sender = "jo@example.com";
  r.helo = "mail.example.com";
  r.spf_mailfrom = {"fail", "example.com", "mx.test: domain of example.com does not designate 192.0.2.9"};
  r.spf_helo = {"none", "mail.example.com", ""};
  r.dkim = {{"fail", "example.com", "s1", "rsa-sha256", "abcdefgh", "body hash did not verify"}};
  r.dmarc = {"fail", "example.com", 'r'};
  return r;
}

}  // namespace

TEST_CASE("authcheck: the field names every method, values quoted where they must be") {
  Results r = sample();
  r.sender = "odd user;\"x\"@example.com";
  std::string f = authentication_results("mx.test", r);
  CHECK(f ==
        "Authentication-Results: mx.test;\n"
        "\tspf=fail (mx.test: domain of example.com does not designate 192.0.2.9) smtp.mailfrom=\"odd user;\\\"x\\\"@example.com\";\n"
        "\tspf=none smtp.helo=mail.example.com;\n"
        "\tdkim=fail (body hash did not verify) header.d=example.com header.s=s1 header.a=rsa-sha256 header.b=abcdefgh;\n"
        "\tdmarc=fail (p=reject) header.from=example.com\n");
  r.sender.clear();
  r.dkim.clear();
  f = authentication_results("mx.test", r);
  CHECK(f.find("smtp.mailfrom") == std::string::npos);
  CHECK(f.find("\tdkim=none;\n") != std::string::npos);
}

TEST_CASE("authcheck: rules decide, the strictest wins, nothing without a rule") {
  std::string why;
  Results r = sample();
  CHECK(decide({}, r).action == Action::header);
  auto rules = parse_policy({"spf=softfail reject", "dmarc=quarantine quarantine"}, why);
  REQUIRE(rules);
  CHECK(decide(*rules, r).action == Action::header);  // spf=fail, dmarc=reject: neither named
  rules = parse_policy({"dmarc=fail quarantine", "spf=fail reject", "dkim=fail header"}, why);
  REQUIRE(rules);
  Decision d = decide(*rules, r);
  CHECK(d.action == Action::reject);
  CHECK(d.key == "spf=fail");
  CHECK(d.reply.starts_with("550 5.7.23 "));
  rules = parse_policy({"dmarc=reject reject"}, why);
  d = decide(*rules, r);
  CHECK(d.reply.starts_with("550 5.7.26 "));
  r.dmarc.domain = "evil\r\n250 ok" + std::string(600, 'x');  // a name from the sender stays one bounded line
  d = decide(*rules, r);
  CHECK(d.reply.find_first_of("\r\n") == std::string::npos);
  CHECK(d.reply.size() <= 400);
  r.dmarc.domain = "example.com";
  r.spf_mailfrom.result = "temperror";
  rules = parse_policy({"spf=temperror reject"}, why);
  CHECK(decide(*rules, r).reply.starts_with("451 4.4.3 "));
  // A bounce is judged by its HELO result.
  r.sender.clear();
  r.spf_helo.result = "fail";
  rules = parse_policy({"spf=fail reject"}, why);
  CHECK(decide(*rules, r).action == Action::reject);
}

TEST_CASE("authcheck: a bad rule is an error naming its line") {
  std::string why;
  CHECK_FALSE(parse_policy({"spf=fail bounce"}, why));
  CHECK(why.find("\"spf=fail bounce\"") != std::string::npos);
  CHECK_FALSE(parse_policy({"spf=pass reject"}, why));
  CHECK_FALSE(parse_policy({"spf=fail reject now"}, why));
  CHECK_FALSE(parse_policy({"dmarc=fail"}, why));
}

TEST_CASE("authcheck: forged fields for this host go, others stay, byte for byte") {
  std::string head =
      "Received: from x\n\tby y\n"
      "Authentication-Results: MX.test; dmarc=pass\n\tspf=pass\n"
      "authentication-results:mx.test;dkim=pass\n"
      "Authentication-Results: mx.test.evil; spf=pass\n"
      "Subject: hi\n\n";
  CHECK(without_forged_results(head, "mx.test") ==
        "Received: from x\n\tby y\n"
        "Authentication-Results: mx.test.evil; spf=pass\n"
        "Subject: hi\n\n");
}

TEST_CASE("authcheck: the DKIM summary takes the best result") {
  CHECK(dkim_summary({}) == "none");
  CHECK(dkim_summary({{"fail", "", "", "", "", ""}, {"pass", "", "", "", "", ""}}) == "pass");
  CHECK(dkim_summary({{"permerror", "", "", "", "", ""}, {"fail", "", "", "", "", ""}}) == "fail");
  CHECK(dkim_summary({{"permerror", "", "", "", "", ""}, {"temperror", "", "", "", "", ""}}) == "temperror");
}
