// Unit tests of the IMAP library units: modified UTF-7, the command
// parser, sequence sets, dates, MIME sections and the Maildir++ store.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "imap/imap_message.hpp"
#include "imap/imap_parse.hpp"
#include "imap/imap_store.hpp"
#include "imap/imap_utf7.hpp"

using namespace postern::imap;

TEST_CASE("modified UTF-7 round trips and rejects non-canonical forms", "[imap]") {
  CHECK(utf7_encode("Entwürfe") == "Entw&APw-rfe");
  CHECK(utf7_encode("a&b") == "a&-b");
  CHECK(utf7_encode("日本語") == "&ZeVnLIqe-");
  CHECK(utf7_decode("Entw&APw-rfe") == "Entwürfe");
  CHECK(utf7_decode("&ZeVnLIqe-") == "日本語");
  CHECK(utf7_decode("a&-b") == "a&b");
  CHECK_FALSE(utf7_decode("a&b"));
  CHECK_FALSE(utf7_decode("&AGE-"));  // plain ASCII encoded
  CHECK_FALSE(utf7_decode("&-"  "\x01"));
  CHECK_FALSE(utf7_encode("\xff"));
}

TEST_CASE("sequence sets and the parser", "[imap]") {
  auto s = parse_seqset("1:3,7,9:*");
  REQUIRE(s);
  CHECK(seq_contains(*s, 2, 20));
  CHECK_FALSE(seq_contains(*s, 5, 20));
  CHECK(seq_contains(*s, 20, 20));
  CHECK_FALSE(parse_seqset("0"));
  CHECK_FALSE(parse_seqset("1,,2"));
  Parser p("a1 LOGIN \"jo\\\"e\" {3}\r\np w\r\n");
  CHECK(p.atom() == "a1");
  CHECK(p.sp());
  CHECK(p.atom() == "LOGIN");
  CHECK(p.sp());
  CHECK(p.astring() == "jo\"e");
  CHECK(p.sp());
  CHECK(p.astring() == "p w");
  CHECK(p.eol());
  Parser f("(\\Seen $Junk)");
  auto fl = f.flag_list(false);
  REQUIRE(fl);
  CHECK(fl->size() == 2);
  CHECK(quote("a\"b") == "\"a\\\"b\"");
  CHECK(quote("x\ny") == "{3}\r\nx\ny");
  CHECK(tag_of("A001 NOOP") == "A001");
}

TEST_CASE("dates", "[imap]") {
  CHECK(parse_date("1-Feb-1994") == 760060800);
  CHECK_FALSE(parse_date("1-Foo-1994"));
  CHECK(parse_date_time("01-Feb-1994 01:00:00 +0100") == 760060800);
  CHECK(parse_date_time(" 1-Feb-1994 00:00:00 +0000") == 760060800);
  CHECK(rfc5322_day("Tue, 1 Feb 1994 23:59:00 -0500") == 760060800);
}

TEST_CASE("MIME structure and sections", "[imap]") {
  std::string m = to_crlf(
      "Subject: hi\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\n"
      "--b\nContent-Type: message/rfc822\n\nSubject: in\n\ninner\n--b--\n");
  CHECK(crlf_size("a\nb\n") == 6);
  Message msg(m);
  Parser p("1]");
  auto s = parse_section(p);
  REQUIRE(s);
  CHECK(msg.section(*s) == "one");
  Parser p2("2.HEADER]");
  CHECK(msg.section(*parse_section(p2)) == "Subject: in\r\n\r\n");
  Parser p3("2.1]");
  CHECK(msg.section(*parse_section(p3)) == "inner");
  Parser p4("HEADER.FIELDS (subject)]");
  auto s4 = parse_section(p4);
  CHECK(msg.section(*s4) == "Subject: hi\r\n\r\n");
  CHECK(s4->name() == "HEADER.FIELDS (SUBJECT)");
  CHECK(msg.bodystructure(false).find("\"mixed\"") != std::string::npos);
  CHECK(msg.envelope().starts_with("(NIL \"hi\""));
  CHECK(decode_words("=?UTF-8?Q?caf=C3=A9?= =?ISO-8859-1?Q?x?=") == "caféx");
}

TEST_CASE("file-name flags and the UID list", "[imap]") {
  Flags f = flags_of("123.M1P2.h,S=5:2,FSa");
  CHECK(f.sys == (f_flagged | f_seen));
  CHECK(f.kw == 1);
  f.sys |= f_deleted;
  CHECK(name_with("123.M1P2.h,S=5", f) == "123.M1P2.h,S=5:2,FSTa");
  CHECK(name_size("123.M1P2.h,S=5,W=7", 'W') == 7u);
  CHECK_FALSE(valid_name("a..b"));
  CHECK_FALSE(valid_name("a/b"));
  CHECK(valid_name("Entw&APw-rfe.x"));

  char tmpl[] = "/tmp/imap-unit-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  for (auto sub : {"/cur", "/new", "/tmp"}) ::mkdir((dir + sub).c_str(), 0700);
  std::ofstream(dir + "/new/100.M1P1.h") << "a\nb\n";
  std::ofstream(dir + "/new/200.M1P1.h") << "c\n";
  Folder folder(dir);
  std::vector<Entry> e;
  std::string err;
  REQUIRE(folder.sync(e, true, err));
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 1);
  CHECK(e[0].vsize == 6);
  CHECK(e[1].uid == 2);
  CHECK(folder.recent_from() == 1);
  // a removed message's UID is never reused; a new one gets the next
  ::unlink((dir + "/cur/" + e[0].name).c_str());
  std::ofstream(dir + "/new/300.M1P1.h") << "d\n";
  Folder again(dir);
  REQUIRE(again.sync(e, true, err));
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 2);
  CHECK(e[1].uid == 3);
  CHECK(again.recent_from() == 3);
  CHECK(again.keyword("$Junk", true) == 0);
  CHECK(again.keyword("Work", true) == 1);
  CHECK(again.keyword("$junk", false) == 0);
  std::system(("rm -rf " + dir).c_str());
}
