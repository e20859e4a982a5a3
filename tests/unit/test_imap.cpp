// Unit tests of the IMAP library units: modified UTF-7, the command
// parser, sequence sets, dates, MIME sections, the Maildir++ store, LIST
// patterns and the CRLF file reader.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "imap/imap_crlf_file.hpp"
#include "imap/imap_decode.hpp"
#include "imap/imap_message.hpp"
#include "imap/imap_parse.hpp"
#include "imap/imap_pattern.hpp"
#include "imap/imap_store.hpp"
#include "imap/imap_utf7.hpp"

#include "scratch.hpp"

using namespace postern::imap;
using postern::NetIO;
using postern::Transport;

namespace {

// A client that has sent everything in its bytes already.
class Sent : public Transport {
 public:
  explicit Sent(std::string bytes) : in(std::move(bytes)) {}
  std::string in, out;
  ssize_t read(char* buf, std::size_t n, int) override {
    std::size_t k = std::min(n, in.size());
    std::copy(in.data(), in.data() + k, buf);
    in.erase(0, k);
    return static_cast<ssize_t>(k);
  }
  bool write(std::string_view d, int) override {
    out += d;
    return true;
  }
};

struct Collect : LiteralSink {
  std::string got;
  bool take(std::string_view so_far, std::uint64_t n) override { return so_far.starts_with("a APPEND") && n > 3; }
  void write(std::string_view chunk) override { got += chunk; }
};

}  // namespace

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
  CHECK(decode_header_words("=?UTF-8?Q?caf=C3=A9?= =?ISO-8859-1?Q?x?=") == "caféx");
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

TEST_CASE("sequence sets are merged before use", "[imap]") {
  auto s = parse_seqset("6:*,1:3,2:4,9,*");
  REQUIRE(s);
  auto n = normalize(*s, 20);
  REQUIRE(n.size() == 2);
  CHECK(n[0] == std::pair<std::uint32_t, std::uint32_t>(1, 4));
  CHECK(n[1] == std::pair<std::uint32_t, std::uint32_t>(6, 20));
  CHECK(in_set(n, 1));
  CHECK_FALSE(in_set(n, 5));
  CHECK(in_set(n, 20));
  CHECK_FALSE(in_set(n, 21));
  std::string many = "1:*";
  for (int i = 0; i < 16000; ++i) many += ",1:*";
  auto m = normalize(*parse_seqset(many), 7);
  CHECK(m.size() == 1);
  CHECK(normalize(*parse_seqset("4,3,2,1"), 9).size() == 1);
  CHECK(normalize(*parse_seqset("1,3"), 9).size() == 2);
}

TEST_CASE("case-insensitive search is exact and linear", "[imap]") {
  CHECK(icontains("Hello World", "WORLD"));
  CHECK_FALSE(icontains("Hello World", "worlds"));
  CHECK(icontains("x", ""));
  // a match across the boundary of the search's blocks
  std::string big(200000, 'a');
  big.replace(65530, 6, "NeEdLe");
  CHECK(icontains(big, "needle"));
  // the needle that made a naive search quadratic
  std::string hay(1 << 20, 'a'), needle(20000, 'a');
  needle += 'b';
  CHECK_FALSE(icontains(hay, needle));
  CHECK(icontains(hay + "B", needle));
}

TEST_CASE("LIST patterns", "[imap]") {
  auto m = [](std::string_view pat, std::string_view name) {
    ListMatcher l;
    l.add(pat);
    return l.matches(name);
  };
  CHECK(m("*", "a.b.c"));
  CHECK(m("%", "abc"));
  CHECK_FALSE(m("%", "a.b"));
  CHECK(m("a.%", "a.b"));
  CHECK_FALSE(m("a.%", "a.b.c"));
  CHECK(m("a*c", "a.b.c"));
  CHECK(m("a%c", "abbc"));
  CHECK_FALSE(m("a%c", "ab.c"));
  CHECK(m("inbox", "INBOX"));
  CHECK(m("%*%*%*x", "x"));
  CHECK_FALSE(m("abc", "ab"));
  std::string longname(150, 'f');
  longname += ".g";
  CHECK(m("%" + std::string(100, '%') + ".*g", longname));
  CHECK(m("f%f%f%.g", longname));
  CHECK_FALSE(m("f%f%f%.h", longname));
  CHECK_FALSE(m("*", std::string(300, 'a')));
}

TEST_CASE("message files read piecewise in CRLF form", "[imap]") {
  std::string dir = postern::test::temp_dir();
  std::string text = "Subject: x\nTo: y\n\nbody\r\nline\n";
  for (int i = 0; i < 5000; ++i) text += "more text on a line of its own\n";
  REQUIRE(postern::write_file_atomic(dir + "/m", text, 0600));
  CrlfFile f;
  REQUIRE(f.open(dir + "/m"));
  std::string crlf = to_crlf(text);
  CHECK(f.size() == crlf.size());
  CHECK(f.header_size() == std::string("Subject: x\r\nTo: y\r\n\r\n").size());
  std::string got;
  REQUIRE(f.copy(0, crlf.size(), [&](std::string_view b) { got += b; return true; }));
  CHECK(got == crlf);
  got.clear();
  REQUIRE(f.copy(70000, 100, [&](std::string_view b) { got += b; return true; }));
  CHECK(got == crlf.substr(70000, 100));
  REQUIRE(postern::write_file_atomic(dir + "/n", "no header end", 0600));
  REQUIRE(f.open(dir + "/n"));
  CHECK(f.header_size() == f.size());
  postern::test::remove_tree(dir);
}

TEST_CASE("read_command skips a long line's literal and spools APPEND's", "[imap]") {
  Limits lim;
  lim.max_line = 100;
  std::string lit = "c CAPABILITY\r\n";
  // What follows the literal up to the line end is still command a's.
  Sent t("a NOOP " + std::string(300, 'x') + " {" + std::to_string(lit.size()) + "+}\r\n" + lit +
         " rest {3+}\r\nabc\r\nb NOOP\r\n");
  NetIO io(t, 5);
  std::string out;
  CHECK(read_command(io, lim, out) == ReadStatus::too_long);
  CHECK(read_command(io, lim, out) == ReadStatus::ok);
  CHECK(out == "b NOOP\r\n");
  Sent big("a NOOP " + std::string(300, 'x') + " {999999999+}\r\n");
  NetIO io2(big, 5);
  CHECK(read_command(io2, lim, out) == ReadStatus::literal_plus_big);

  Sent app("a APPEND INBOX {5}\r\nhello\r\n");
  NetIO io3(app, 5);
  Collect sink;
  REQUIRE(read_command(io3, lim, out, &sink) == ReadStatus::ok);
  CHECK(sink.got == "hello");
  CHECK(out == "a APPEND INBOX {5}\r\n\r\n");
  CHECK(app.out == "+ OK\r\n");
  Parser p(out);
  p.set_pos(15);
  CHECK(p.literal_marker() == 5u);
  CHECK(p.eol());
}

TEST_CASE("read_command: LITERAL- drops a non-synchronizing literal over 4096 bytes with its command", "[imap]") {
  Limits lim;
  lim.max_nonsync = literal_minus_max;
  Sent t("a LOGIN {5000+}\r\n" + std::string(5000, 'u') + " {2+}\r\npw\r\nb NOOP {4096+}\r\n" +
         std::string(4096, 'v') + "\r\n");
  NetIO io(t, 5);
  std::string out;
  CHECK(read_command(io, lim, out) == ReadStatus::literal_minus_big);
  CHECK(tag_of(out) == "a");
  REQUIRE(read_command(io, lim, out) == ReadStatus::ok);
  CHECK(out == "b NOOP {4096+}\r\n" + std::string(4096, 'v') + "\r\n");
  CHECK(t.out.empty());  // no "+" for either
  Limits plus;  // LITERAL+: any size within max_literal
  Sent t2("a LOGIN {5000+}\r\n" + std::string(5000, 'u') + "\r\n");
  NetIO io2(t2, 5);
  CHECK(read_command(io2, plus, out) == ReadStatus::ok);
}

TEST_CASE("read_command reads a literal8 (RFC 3516) with its NUL bytes", "[imap]") {
  Limits lim;
  std::string bin("a\0b\r\nc", 6);
  Sent t("x APPEND INBOX ~{6}\r\n" + bin + "\r\ny APPEND INBOX ~{6+}\r\n" + bin + " z\r\n");
  NetIO io(t, 5);
  std::string out;
  REQUIRE(read_command(io, lim, out) == ReadStatus::ok);
  CHECK(t.out == "+ OK\r\n");
  Parser p(out);
  p.set_pos(15);
  CHECK_FALSE(p.literal());
  CHECK(p.literal8() == bin);
  CHECK(p.eol());
  REQUIRE(read_command(io, lim, out) == ReadStatus::ok);
  Parser q(out);
  q.set_pos(15);
  CHECK(q.literal8_marker() == 6u);

  struct Binary : LiteralSink {
    bool binary = false;
    std::string got;
    bool take(std::string_view so_far, std::uint64_t) override {
      binary = literal8_at_end(so_far);
      return true;
    }
    void write(std::string_view chunk) override { got += chunk; }
  } sink;
  Sent t3("x APPEND INBOX ~{6+}\r\n" + bin + "\r\n");
  NetIO io3(t3, 5);
  REQUIRE(read_command(io3, lim, out, &sink) == ReadStatus::ok);
  CHECK(sink.binary);
  CHECK(sink.got == bin);
  CHECK_FALSE(literal8_at_end("x APPEND INBOX {6}\r\n"));
}
