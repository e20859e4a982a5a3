// Unit tests of imap_decode (MIME transfer encodings, RFC 2047 words,
// charsets) and of the sequence-set parser's bounds, the pieces SEARCH,
// SORT and THREAD stand on.
#include <catch2/catch.hpp>

#include <string>

#include "imap/imap_decode.hpp"
#include "imap/imap_parse.hpp"

using namespace postern::imap;

TEST_CASE("base64 bodies decode with line breaks and junk ignored") {
  CHECK(decode_transfer("aGVsbG8g\r\nd29ybGQ=\r\n", "base64") == "hello world");
  CHECK(decode_transfer("aGVs bG8*g\r\n!d29y\tbGQ", "BASE64") == "hello world");
  // A cut last group still gives its whole bytes; a lone character none.
  CHECK(decode_transfer("aGVsbG", "base64") == "hell");
  CHECK(decode_transfer("aGVsbG8gd", "base64") == "hello ");
  CHECK(decode_transfer("", "base64") == "");
  // Data after the padding is not part of the body.
  CHECK(decode_transfer("aGk=aGk=", "base64") == "hi");
}

TEST_CASE("quoted-printable bodies decode soft breaks, escapes and trailing space") {
  CHECK(decode_transfer("caf=C3=A9 =\r\nau lait  \r\nnext=3d\r\n", "quoted-printable") ==
        "caf\xC3\xA9 au lait\r\nnext=\r\n");
  CHECK(decode_transfer("a=ZZb=\r\n", "Quoted-Printable") == "a=ZZb");
  CHECK(decode_transfer("end=", "quoted-printable") == "end");
  CHECK(decode_transfer("x=4", "quoted-printable") == "x=4");
}

TEST_CASE("identity encodings pass, unknown ones are refused") {
  CHECK(decode_transfer("raw\xff", "8bit") == "raw\xff");
  CHECK(decode_transfer("raw", "") == "raw");
  CHECK(decode_transfer("raw", " 7BIT ") == "raw");
  CHECK_FALSE(decode_transfer("raw", "x-uuencode"));
}

TEST_CASE("charsets become UTF-8; bad bytes become U+FFFD; unknown charsets stay") {
  CHECK(to_utf8("caf\xe9", "ISO-8859-1") == "caf\xC3\xA9");
  CHECK(to_utf8("\x80", "windows-1252") == "\xE2\x82\xAC");
  CHECK(to_utf8("a\xff" "b", "utf-8") == "a\xff" "b");
  CHECK(to_utf8("\x1b$B$3\x1b(B", "iso-2022-jp") == "\xE3\x81\x93");
  CHECK(to_utf8("a\x80" "b", "us-ascii") == "a\x80" "b");
  CHECK(to_utf8("\xa4", "iso-8859-15*en") == "\xE2\x82\xAC");
  CHECK(to_utf8("x", "no-such-charset") == "x");
  CHECK(to_utf8("x", "../../etc/passwd") == "x");
  CHECK(to_utf8("a\xe4\xb8", "UTF-16LE").size() > 0);
  CHECK(charset_known("utf-8"));
  CHECK(charset_known("ISO-8859-2"));
  CHECK_FALSE(charset_known("no-such-charset"));
}

TEST_CASE("RFC 2047 words decode, white space between words goes") {
  CHECK(decode_header_words("=?UTF-8?Q?caf=C3=A9?= =?ISO-8859-1?Q?x?=") == "caf\xC3\xA9x");
  CHECK(decode_header_words("=?iso-8859-1?b?Y2Fm6Q==?= au lait") == "caf\xC3\xA9 au lait");
  CHECK(decode_header_words("a =?utf-8?q?b_c?= d") == "a b c d");
  CHECK(decode_header_words("=?utf-8*en?q?hi?=") == "hi");
  // Not words: left as written.
  CHECK(decode_header_words("=?utf-8?x?hi?=") == "=?utf-8?x?hi?=");
  CHECK(decode_header_words("=?bogus-cs?q?hi?=") == "=?bogus-cs?q?hi?=");
  CHECK(decode_header_words("=? utf-8?q?hi?=") == "=? utf-8?q?hi?=");
  CHECK(decode_header_words("=?utf-8?q?a b?=") == "=?utf-8?q?a b?=");
  CHECK(decode_header_words("plain =?") == "plain =?");
  CHECK(decode_header_words("=?utf-8?q?a?==?utf-8?q?b?=") == "ab");
}

TEST_CASE("a long run of broken words decodes in linear time") {
  std::string s;
  for (int i = 0; i < 200000; ++i) s += "=?a";
  CHECK(decode_header_words(s) == s);
  std::string q(300000, '=');
  CHECK(decode_transfer(q, "quoted-printable")->size() == q.size() - 1);
}

TEST_CASE("sequence sets take every 32-bit number but 0") {
  auto s = parse_seqset("1:4294967295");
  REQUIRE(s);
  CHECK((*s)[0] == std::pair<std::uint32_t, std::uint32_t>(1, 4294967295u));
  CHECK(parse_seqset("4294967295"));
  // The number is a UID, not "*": it never names the last message.
  CHECK(normalize(*parse_seqset("4294967295"), 7) ==
        SeqSet{std::pair<std::uint32_t, std::uint32_t>(4294967295u, 4294967295u)});
  CHECK(normalize(*parse_seqset("*"), 7) == SeqSet{std::pair<std::uint32_t, std::uint32_t>(7, 7)});
  CHECK_FALSE(parse_seqset("4294967296"));
  CHECK_FALSE(parse_seqset("0"));
  CHECK_FALSE(parse_seqset("0:5"));
  CHECK_FALSE(parse_seqset("01"));
  auto n = normalize(*parse_seqset("4294967295,*"), 7);
  CHECK(in_set(n, 7));
  CHECK_FALSE(in_set(n, 8));
}
