// Unit tests for src/lib/login_request: what pop3d, imapd and
// checkpassword share about a login (user names, AUTH PLAIN, the
// checkpassword request).
#include <catch2/catch.hpp>

#include <string>

#include "login/login_request.hpp"

using namespace postern;

namespace {

TEST_CASE("AUTH PLAIN decoding", "[login]") {
  // base64("\0joe\0secret")
  auto p = login::decode_plain("AGpvZQBzZWNyZXQ=");
  REQUIRE(p);
  CHECK(p->authzid.empty());
  CHECK(p->authcid == "joe");
  CHECK(p->password == "secret");
  CHECK_FALSE(login::decode_plain("not base64!"));
  CHECK_FALSE(login::decode_plain("am9lc2VjcmV0"));  // "joesecret": no NULs
  CHECK_FALSE(login::decode_plain(""));
}

TEST_CASE("checkpassword requests are checked", "[login]") {
  std::string r = login::encode_request("joe", "pw d", "<1.2@h>");
  auto d = login::decode_request(r);
  REQUIRE(d);
  CHECK(d->user == "joe");
  CHECK(d->password == "pw d");
  CHECK(d->timestamp == "<1.2@h>");
  CHECK_FALSE(login::decode_request(std::string("joe\0pw", 6)));
  CHECK_FALSE(login::decode_request(login::encode_request("", "pw", "")));
  CHECK_FALSE(login::decode_request(login::encode_request("a b", "pw", "")));
  CHECK_FALSE(login::decode_request(login::encode_request("joe", std::string(600, 'x'), "")));
}

TEST_CASE("a request ends where its third NUL is", "[login]") {
  std::string r = login::encode_request("joe", "pw", "");
  auto d = login::decode_request(r + "more");
  REQUIRE(d);
  CHECK(login::encoded_size(*d) == r.size());
  CHECK(d->timestamp.empty());
  CHECK_FALSE(login::decode_request(login::encode_request("joe", "pw", "a\x01")));
  CHECK_FALSE(login::decode_request(login::encode_request("joe", "pw", std::string(256, 't'))));
}

TEST_CASE("user names the servers pass on", "[login]") {
  CHECK(login::valid_user("joe@example.org"));
  CHECK(login::valid_user(std::string(255, 'u')));
  CHECK_FALSE(login::valid_user(""));
  CHECK_FALSE(login::valid_user(std::string(256, 'u')));
  CHECK_FALSE(login::valid_user("a b"));
  CHECK_FALSE(login::valid_user(std::string("a\0b", 3)));
  CHECK_FALSE(login::valid_user("a\x7f"));
}

}  // namespace
