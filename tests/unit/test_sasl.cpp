// Unit tests for src/lib/login/sasl (smtpd's AUTH PLAIN and LOGIN
// exchanges) and src/lib/mail/completion (Date: and Message-ID: for
// inject and submission).
#include <catch2/catch.hpp>

#include <string>

#include "login/sasl.hpp"
#include "mail/completion.hpp"

using namespace postern;
using Kind = login::sasl::Exchange::Step::Kind;

TEST_CASE("AUTH PLAIN with and without an initial response", "[sasl]") {
  login::sasl::Exchange e;
  // base64("\0joe\0secret")
  auto s = e.start(login::sasl::Mech::plain, std::string_view("AGpvZQBzZWNyZXQ="));
  REQUIRE(s.kind == Kind::done);
  CHECK(e.user() == "joe");
  CHECK(e.password() == "secret");

  login::sasl::Exchange f;
  s = f.start(login::sasl::Mech::plain, std::nullopt);
  REQUIRE(s.kind == Kind::challenge);
  CHECK(s.text.empty());
  s = f.next("am9lAGpvZQBzZWNyZXQ=");  // "joe\0joe\0secret": authzid = authcid
  REQUIRE(s.kind == Kind::done);
  CHECK(f.user() == "joe");
}

TEST_CASE("AUTH PLAIN refuses what it cannot use", "[sasl]") {
  login::sasl::Exchange e;
  CHECK(e.start(login::sasl::Mech::plain, std::string_view("=")).kind == Kind::failed);
  CHECK(e.start(login::sasl::Mech::plain, std::string_view("bm90IGJhc2U2NA")).kind == Kind::failed);
  // "ann\0joe\0secret": acting as another user
  CHECK(e.start(login::sasl::Mech::plain, std::string_view("YW5uAGpvZQBzZWNyZXQ=")).kind == Kind::failed);
  CHECK(e.start(login::sasl::Mech::plain, std::nullopt).kind == Kind::challenge);
  CHECK(e.next("*").kind == Kind::cancelled);
  CHECK(e.next("AGpvZQBzZWNyZXQ=").kind == Kind::failed);  // nothing in progress
  CHECK(e.start(login::sasl::Mech::plain, std::nullopt).kind == Kind::challenge);
  CHECK(e.next(std::string(5000, 'A')).kind == Kind::failed);
}

TEST_CASE("AUTH LOGIN asks for the name, then the password", "[sasl]") {
  login::sasl::Exchange e;
  auto s = e.start(login::sasl::Mech::login, std::nullopt);
  REQUIRE(s.kind == Kind::challenge);
  CHECK(s.text == login::sasl::encode("Username:"));
  s = e.next(login::sasl::encode("joe"));
  REQUIRE(s.kind == Kind::challenge);
  CHECK(s.text == login::sasl::encode("Password:"));
  s = e.next(login::sasl::encode("pass word"));
  REQUIRE(s.kind == Kind::done);
  CHECK(e.user() == "joe");
  CHECK(e.password() == "pass word");

  login::sasl::Exchange f;  // the name with the command
  REQUIRE(f.start(login::sasl::Mech::login, std::string_view(login::sasl::encode("joe"))).kind == Kind::challenge);
  CHECK(f.next(login::sasl::encode(std::string("pw\0x", 4))).kind == Kind::failed);  // a NUL in the password
  login::sasl::Exchange g;
  REQUIRE(g.start(login::sasl::Mech::login, std::nullopt).kind == Kind::challenge);
  CHECK(g.next(login::sasl::encode("a b")).kind == Kind::failed);  // no user name
}

TEST_CASE("SASL mechanism names and base64 bounds", "[sasl]") {
  CHECK(login::sasl::mechanism("plain") == login::sasl::Mech::plain);
  CHECK(login::sasl::mechanism("LOGIN") == login::sasl::Mech::login);
  CHECK_FALSE(login::sasl::mechanism("CRAM-MD5"));
  CHECK(login::sasl::decode_text(login::sasl::encode("abc"), 3) == std::optional<std::string>("abc"));
  CHECK_FALSE(login::sasl::decode_text(login::sasl::encode("abcd"), 3));
  CHECK_FALSE(login::sasl::decode_text("YWJj", 3) != std::optional<std::string>("abc"));
  CHECK_FALSE(login::sasl::decode_text("YWJ", 3));   // not a multiple of 4
  CHECK_FALSE(login::sasl::decode_text("YW=j", 3));  // padding inside
}

TEST_CASE("completion adds Date: and Message-ID: only when missing", "[completion]") {
  auto fields = header::parse("Subject: hi\nFrom: a@b\n");
  auto added = completion::missing_date_and_id(fields, "mx.example", 1700000000);
  REQUIRE(added.size() == 2);
  CHECK(added[0].name == "Message-ID");
  CHECK(added[0].value.find("@mx.example>") != std::string::npos);
  CHECK(added[1].name == "Date");
  fields = header::parse("date: Tue, 14 Nov 2023 22:13:20 +0000\nMessage-Id: <x@y>\n");
  CHECK(completion::missing_date_and_id(fields, "mx.example", 1700000000).empty());
}
