// Unit tests for the user directory's checks (src/lib/directory) and for
// authhttp's reading of nginx's requests (src/authhttp/auth_request), both
// of which take bytes from other hosts: a directory entry and an HTTP
// request.
#include <catch2/catch.hpp>

#include <string>

#include "authhttp/auth_request.hpp"
#include "delivery/agent_wire.hpp"
#include "directory/ldap_client.hpp"
#include "directory/mail_directory.hpp"

using namespace postern;
using namespace postern::directory;

namespace {

LdapEntry account(const std::string& uid_number, const std::string& home) {
  LdapEntry e;
  e.dn = "uid=joe,ou=people,dc=example,dc=test";
  e.values["uid"] = {"joe"};
  e.values["uidnumber"] = {uid_number};
  e.values["gidnumber"] = {"100"};
  e.values["homedirectory"] = {home};
  return e;
}

}  // namespace

TEST_CASE("an account entry gives its numbers, home and mail host") {
  std::string why;
  auto e = account("4001", "/home/joe");
  e.values["mailhost"] = {"MB1.Example.TEST"};
  auto m = mail_entry_from(e, why);
  REQUIRE(m);
  CHECK(m->login == "joe");
  CHECK(*m->uid == 4001);
  CHECK(*m->gid == 100);
  CHECK(m->home == "/home/joe");
  CHECK(m->mailhost == "mb1.example.test");
  CHECK_FALSE(m->alias());
}

TEST_CASE("malformed entries are refused, with the reason") {
  std::string why;
  CHECK_FALSE(mail_entry_from(account("40x1", "/home/joe"), why));
  CHECK(why.find("uidNumber") != std::string::npos);
  CHECK_FALSE(mail_entry_from(account("99999999999", "/home/joe"), why));
  CHECK_FALSE(mail_entry_from(account("4001", "home/joe"), why));
  CHECK(why.find("homeDirectory") != std::string::npos);
  CHECK_FALSE(mail_entry_from(account("4001", "/home/../etc"), why));
  CHECK_FALSE(mail_entry_from(account("4001", "/home/.."), why));
  auto bad_host = account("4001", "/home/joe");
  bad_host.values["mailhost"] = {"mb1 example"};
  CHECK_FALSE(mail_entry_from(bad_host, why));
  LdapEntry nothing;
  nothing.dn = "cn=x";
  nothing.values["uid"] = {"x"};
  CHECK_FALSE(mail_entry_from(nothing, why));
  CHECK(why.find("neither") != std::string::npos);
}

TEST_CASE("an alias entry forwards; a malformed address in it is refused") {
  std::string why;
  LdapEntry e;
  e.dn = "cn=team@example.test";
  e.values["rfc822mailmember"] = {"a@example.test", "b@example.org"};
  auto m = mail_entry_from(e, why);
  REQUIRE(m);
  CHECK(m->alias());
  CHECK(m->forward.size() == 2);
  e.values["rfc822mailmember"] = {"a@example.test", "no-domain"};
  CHECK_FALSE(mail_entry_from(e, why));
  e.values["rfc822mailmember"] = {"a\r\nRCPT TO:<x@y>@example.test"};
  CHECK_FALSE(mail_entry_from(e, why));
}

TEST_CASE("a mail host alone is enough: the user lives elsewhere") {
  std::string why;
  LdapEntry e;
  e.dn = "uid=far";
  e.values["mailhost"] = {"[192.0.2.7]"};
  auto m = mail_entry_from(e, why);
  REQUIRE(m);
  CHECK(m->mailhost == "[192.0.2.7]");
}

TEST_CASE("filter values are escaped by libldap") {
  CHECK(filter_value("joe@example.test") == "joe@example.test");
  CHECK(filter_value("*)(uid=*") == "\\2A\\29\\28uid=\\2A");
  CHECK(filter_value(std::string("a\0b", 3)) == "a\\00b");
}

TEST_CASE("lspawn's lookup answer carries a mail host") {
  delivery::LookupAnswer a;
  a.mailhost = "mb2.example.test";
  auto back = delivery::decode_lookup_answer(delivery::encode_lookup_answer(a));
  REQUIRE(back);
  CHECK(back->mailhost == "mb2.example.test");
  CHECK_FALSE(back->user);
  CHECK_FALSE(delivery::decode_lookup_answer("Hmb2 example"));
  CHECK_FALSE(delivery::decode_lookup_answer("H"));
  CHECK_FALSE(delivery::decode_lookup_answer(std::string("Hmb2\nx")));
}

TEST_CASE("authhttp reads nginx's request") {
  std::string why;
  std::string req =
      "GET /auth HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\nAuth-User: joe%40example.test\r\n"
      "Auth-Pass: p%25ss%20word\r\nAuth-Protocol: imap\r\nAuth-Login-Attempt: 2\r\nClient-IP: 192.0.2.42\r\n\r\n";
  REQUIRE(authhttp::complete(req));
  auto r = authhttp::parse_auth_request(req, why);
  REQUIRE(r);
  CHECK(r->user == "joe@example.test");
  CHECK(r->password == "p%ss word");
  CHECK(r->protocol == "imap");
  CHECK(r->attempt == 2);
  CHECK(r->client_ip == "192.0.2.42");
  CHECK_FALSE(authhttp::complete("GET /auth HTTP/1.0\r\nAuth-User: x\r\n"));
}

TEST_CASE("authhttp refuses malformed requests") {
  std::string why;
  auto ok = [&](const std::string& headers) {
    return authhttp::parse_auth_request("GET /auth HTTP/1.0\r\n" + headers + "\r\n", why).has_value();
  };
  CHECK(ok("Auth-Method: plain\r\nAuth-Protocol: pop3\r\n"));
  CHECK_FALSE(ok("Auth-Method: plain\r\nAuth-Protocol: gopher\r\n"));
  CHECK_FALSE(ok("Auth-Method: plain\r\nAuth-Protocol: imap\r\nAuth-User: a\r\nAuth-User: b\r\n"));
  CHECK_FALSE(ok("Auth-Method: plain\r\nAuth-Protocol: imap\r\nAuth-Pass: %00\r\n"));
  CHECK_FALSE(ok("Auth-Method: plain\r\nAuth-Protocol: imap\r\nno colon here\r\n"));
  CHECK_FALSE(ok("Auth-Method: plain\r\nAuth-Protocol: imap\r\nAuth-Login-Attempt: many\r\n"));
  CHECK_FALSE(authhttp::parse_auth_request("POST /auth HTTP/1.0\r\n\r\n", why));
  CHECK_FALSE(authhttp::parse_auth_request("GET /auth HTTP/1.0\r\nAuth-Protocol: imap\r\n", why));
  std::string many = "GET / HTTP/1.0\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  CHECK_FALSE(authhttp::parse_auth_request(many + "\r\n", why));
}

TEST_CASE("authhttp's answers are what nginx reads") {
  CHECK(authhttp::answer_ok("192.0.2.1", 143) ==
        "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 192.0.2.1\r\nAuth-Port: 143\r\n\r\n");
  CHECK(authhttp::answer_refused(3).find("Auth-Wait: 3\r\n") != std::string::npos);
  CHECK(authhttp::answer_refused(0).find("Auth-Wait") == std::string::npos);
  CHECK(authhttp::answer_temporary("smtp").find("Auth-Error-Code: 451 4.3.0") != std::string::npos);
}

TEST_CASE("a directory found down is not asked again at once") {
  LdapClient client;
  LdapSettings s;
  s.uris = "ldap://127.0.0.1:1/";  // nothing listens on port 1
  s.base = "dc=example,dc=test";
  s.timeout = 2;
  client.configure(s);
  std::vector<LdapEntry> entries;
  std::string why;
  CHECK_FALSE(client.search("(uid=joe)", {"uid"}, entries, why));
  CHECK(why.find("bind") != std::string::npos);
  CHECK(why.find("not tried again") == std::string::npos);
  CHECK_FALSE(client.search("(uid=joe)", {"uid"}, entries, why));
  CHECK(why.find("not tried again") != std::string::npos);
  s.uris = "ldap://127.0.0.1:2/";  // new settings: asked at once
  client.configure(s);
  CHECK_FALSE(client.search("(uid=joe)", {"uid"}, entries, why));
  CHECK(why.find("not tried again") == std::string::npos);
}
