// Unit tests for src/lib/pop3, secret, mailauth_db and maildir_list: the
// transfer form of messages, LIST sizes, UIDLs, secrets, mailauth lines,
// and reading a Maildir. Logins: test_login.cpp.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/io.hpp"
#include "mail/mailauth_db.hpp"
#include "mail/maildir_list.hpp"
#include "mail/crlf_size.hpp"
#include "pop3/pop3.hpp"
#include "base/secret.hpp"

using namespace postern;

namespace {

std::string transfer(std::string_view in, long long lines = -1, std::size_t chunk = 1000) {
  pop3::Transfer t(lines);
  std::string out;
  for (std::size_t i = 0; i < in.size() && !t.done(); i += chunk) t.feed(in.substr(i, chunk), out);
  t.finish(out);
  return out;
}

std::uint64_t size_of(std::string_view in) {
  CrlfSize c;
  for (char ch : in) c.feed(std::string_view(&ch, 1));
  return c.size();
}

}  // namespace

TEST_CASE("pop3 commands parse", "[pop3]") {
  auto c = pop3::parse_command("retr 12\r\n");
  REQUIRE(c);
  CHECK(c->verb == "RETR");
  REQUIRE(c->args.size() == 1);
  CHECK(c->args[0] == "12");
  auto p = pop3::parse_command("PASS a b  c\r\n");
  REQUIRE(p);
  CHECK(p->rest == "a b  c");
  CHECK_FALSE(pop3::parse_command("\r\n"));
  CHECK_FALSE(pop3::parse_command("RE1R 1\r\n"));
  CHECK_FALSE(pop3::parse_command("USER a\x01\r\n"));
  CHECK(pop3::message_number("3", 3) == 3u);
  CHECK_FALSE(pop3::message_number("0", 3));
  CHECK_FALSE(pop3::message_number("4", 3));
  CHECK_FALSE(pop3::message_number("-1", 3));
  CHECK_FALSE(pop3::message_number("99999999999999999999999", 3));
}

TEST_CASE("pop3 commands: one table of states and argument counts", "[pop3]") {
  using S = pop3::State;
  auto refusal = [](const char* line, S s) { return pop3::refusal(*pop3::parse_command(line), s); };
  CHECK(refusal("USER joe", S::authorization).empty());
  CHECK(refusal("USER", S::authorization) == "-ERR wrong number of arguments");
  CHECK(refusal("USER a b", S::authorization) == "-ERR wrong number of arguments");
  CHECK(refusal("PASS secret with spaces", S::authorization).empty());
  CHECK(refusal("AUTH", S::authorization).empty());
  CHECK(refusal("AUTH PLAIN a b", S::authorization) == "-ERR wrong number of arguments");
  CHECK(refusal("STAT", S::authorization) == "-ERR log in first");
  CHECK(refusal("USER joe", S::transaction) == "-ERR already logged in");
  CHECK(refusal("STLS", S::transaction) == "-ERR already logged in");
  CHECK(refusal("stat", S::transaction).empty());
  CHECK(refusal("STAT 1", S::transaction) == "-ERR wrong number of arguments");
  CHECK(refusal("LIST", S::transaction).empty());
  CHECK(refusal("LIST 1", S::transaction).empty());
  CHECK(refusal("LIST 1 2", S::transaction) == "-ERR wrong number of arguments");
  CHECK(refusal("TOP 1", S::transaction) == "-ERR wrong number of arguments");
  CHECK(refusal("TOP 1 0", S::transaction).empty());
  for (S s : {S::authorization, S::transaction}) {
    CHECK(refusal("CAPA", s).empty());
    CHECK(refusal("QUIT", s).empty());
    CHECK(refusal("QUIT now", s) == "-ERR wrong number of arguments");
    CHECK(refusal("XYZZY", s) == "-ERR unknown command");
  }
}

TEST_CASE("pop3 transfer: CRLF, dot-stuffing, terminator", "[pop3]") {
  std::string msg = "Subject: a\n\n.line\nx\r\n..two\nlast";
  std::string want = "Subject: a\r\n\r\n..line\r\nx\r\n...two\r\nlast\r\n.\r\n";
  CHECK(transfer(msg) == want);
  CHECK(transfer(msg, -1, 1) == want);  // byte by byte: state carries over
  CHECK(transfer("") == ".\r\n");
  CHECK(transfer("a\r") == "a\r\r\n.\r\n");
}

TEST_CASE("pop3 transfer: TOP sends header, blank line and n body lines", "[pop3]") {
  std::string msg = "A: 1\nB: 2\n\nl1\nl2\nl3\n";
  CHECK(transfer(msg, 0) == "A: 1\r\nB: 2\r\n\r\n.\r\n");
  CHECK(transfer(msg, 2) == "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
  CHECK(transfer(msg, 2, 1) == "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
  CHECK(transfer(msg, 10) == "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n");
}

TEST_CASE("pop3 sizes count CRLF line ends, not dot-stuffing", "[pop3]") {
  CHECK(size_of("a\nb\n") == 6);
  CHECK(size_of("a\r\nb\n") == 6);
  CHECK(size_of(".x\n") == 4);
  std::string msg = "Subject: a\n\nbody\r\nmore\n";
  std::string t = transfer(msg);
  CHECK(size_of(msg) == t.size() - 3);
}

TEST_CASE("pop3 uidl: the name before ':', or a hash when unusable", "[pop3]") {
  CHECK(pop3::uidl_of("123.M4P5.host,S=10:2,S") == "123.M4P5.host,S=10");
  CHECK(pop3::uidl_of("123.M4P5.host,S=10") == "123.M4P5.host,S=10");
  std::string longname(100, 'x');
  std::string h = pop3::uidl_of(longname + ":2,");
  CHECK(h.size() == 33);
  CHECK(h == pop3::uidl_of(longname));
  CHECK(pop3::uidl_of("a b") != "a b");
}

TEST_CASE("secret compare, wipe and the APOP digest", "[secret]") {
  CHECK(secret::equal("abc", "abc"));
  CHECK_FALSE(secret::equal("abc", "abd"));
  CHECK_FALSE(secret::equal("abc", "abcd"));
  std::string s = "password";
  secret::wipe(s);
  CHECK(s.empty());
  // RFC 1939's example.
  CHECK(secret::md5_hex("<1896.697170952@dbc.mtview.ca.us>tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb");
}

TEST_CASE("mailauth lines parse and format", "[mailauth]") {
  std::string why;
  auto e = mailauth::parse("joe:$argon2id$v=19$x:6869:::::", why);
  REQUIRE(e);
  CHECK(e->name == "joe");
  CHECK(e->apop == "6869");
  CHECK_FALSE(e->disabled());
  CHECK_FALSE(e->virtual_account());
  CHECK(mailauth::format(*e) == "joe:$argon2id$v=19$x:6869:::::");
  auto v = mailauth::parse("v@dom:::d::1005:1006:/var/mail/v", why);
  REQUIRE(v);
  CHECK(v->disabled());
  CHECK(*v->uid == 1005u);
  CHECK(*v->gid == 1006u);
  CHECK(mailauth::format(*v) == "v@dom:::d::1005:1006:/var/mail/v");
  CHECK_FALSE(mailauth::parse("joe:x::::::", why));         // not argon2
  CHECK_FALSE(mailauth::parse("joe::zz:::::", why));        // not hex
  CHECK_FALSE(mailauth::parse("joe:::::1::/h", why));        // gid missing
  CHECK_FALSE(mailauth::parse("joe::::u:1:1:/h", why));      // both
  CHECK_FALSE(mailauth::parse("../x:::::::", why));
  CHECK_FALSE(mailauth::parse("joe::::::", why));            // 7 fields
  CHECK_FALSE(mailauth::parse("joe:::::1:1:relative", why));
}

TEST_CASE("maildir listing for POP3", "[maildir_list]") {
  char t[] = "/tmp/postern-pop3-XXXXXX";
  REQUIRE(::mkdtemp(t));
  std::string dir = std::string(t) + "/Maildir";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  for (auto sub : {"/tmp", "/new", "/cur"}) REQUIRE(::mkdir((dir + sub).c_str(), 0700) == 0);
  REQUIRE(write_file_atomic(dir + "/new/100.a.h,S=4", "a\nb\n", 0600, false));
  REQUIRE(write_file_atomic(dir + "/cur/50.b.h:2,S", "xyz\n", 0600, false));
  CHECK(maildir::move_new_to_cur(dir) == 1);
  std::vector<maildir::Message> msgs;
  REQUIRE(maildir::list_cur(dir, msgs));
  REQUIRE(msgs.size() == 2);
  bool found = false;
  for (auto& m : msgs) {
    if (m.name == "100.a.h,S=4:2,") {
      found = true;
      CHECK(m.size == 6);
      CHECK(pop3::uidl_of(m.name) == "100.a.h,S=4");
    }
  }
  CHECK(found);
  CHECK(maildir::with_flag("x:2,", 'S') == "x:2,S");
  CHECK(maildir::with_flag("x:2,T", 'S') == "x:2,ST");
  CHECK(maildir::with_flag("x:2,S", 'S') == "x:2,S");
  CHECK(maildir::with_flag("x", 'S') == "x:2,S");
  std::string rm = std::string("rm -rf ") + t;
  CHECK(std::system(rm.c_str()) == 0);
}
