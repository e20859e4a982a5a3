// Unit tests of what FETCH returns (imap_message, imap_envelope): sections
// inside attached messages, ENVELOPE address lists (groups, routes,
// malformed ones), IMAP string forms, BINARY, PREVIEW and the object ids;
// each answer the one Dovecot 2.3 gives for the same input where Dovecot
// has the item.
#include <catch2/catch.hpp>

#include <string>

#include "imap/imap_envelope.hpp"
#include "imap/imap_fetch_data.hpp"
#include "imap/imap_message.hpp"
#include "imap/imap_parse.hpp"

using namespace postern::imap;

namespace {

std::string sec(const Message& m, const std::string& spec) {
  std::string text = spec + "]";
  Parser p(text);
  auto s = parse_section(p);
  REQUIRE(s);
  return m.section(*s);
}

std::string list(const std::string& value) { return address_list_out(parse_addresses(value)); }

}  // namespace

TEST_CASE("sections count the parts of an attached message", "[imap][fetch]") {
  Message x2(to_crlf(
      "Content-Type: message/rfc822\n\nSubject: mid\nContent-Type: message/rfc822\n\nSubject: in\n\nHello\n"));
  CHECK(sec(x2, "1") == "Subject: mid\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nHello\r\n");
  CHECK(sec(x2, "1.1") == "Subject: in\r\n\r\nHello\r\n");
  CHECK(sec(x2, "1.1.1") == "Hello\r\n");
  CHECK(sec(x2, "1.HEADER") == "Subject: mid\r\nContent-Type: message/rfc822\r\n\r\n");
  CHECK(sec(x2, "1.1.HEADER") == "Subject: in\r\n\r\n");
  CHECK(sec(x2, "1.1.TEXT") == "Hello\r\n");
  CHECK(sec(x2, "2").empty());
  // a part that is neither multipart nor a message has nothing below it
  Message plain(to_crlf("Subject: x\n\nbody\n"));
  CHECK(sec(plain, "1") == "body\r\n");
  CHECK(sec(plain, "1.1").empty());
  CHECK(sec(plain, "1.MIME") == "Subject: x\r\n\r\n");

  Message digest(to_crlf(
      "Content-Type: message/rfc822\n\nContent-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: m1\n\nbody1\n"
      "--b\nX-Mime: 2\n\nSubject: m2\n\nbody2\n--b--\n"));
  CHECK(sec(digest, "1.1") == "Subject: m1\r\n\r\nbody1");
  CHECK(sec(digest, "1.1.MIME") == "\r\n");
  CHECK(sec(digest, "1.2.MIME") == "X-Mime: 2\r\n\r\n");
  CHECK(sec(digest, "1.2.HEADER") == "Subject: m2\r\n\r\n");
  CHECK(sec(digest, "1.2.TEXT") == "body2");
  CHECK(sec(digest, "1.3").empty());
}

TEST_CASE("ENVELOPE address lists as Dovecot writes them", "[imap][fetch]") {
  CHECK(list("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;") ==
        "((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)"
        "(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")(NIL NIL NIL NIL))");
  CHECK(list("group:;") == "((NIL NIL \"group\" NIL)(NIL NIL NIL NIL))");
  CHECK(list("undisclosed-recipients:") == "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
  CHECK(list("<@route:user@domain>") == "((NIL \"@route\" \"user\" \"domain\"))");
  CHECK(list("<@a,,@b:u@d>") == "((NIL \"@a,@b\" \"u\" \"d\"))");
  CHECK(list("user@domain (Real Name)") == "((\"Real Name\" NIL \"user\" \"domain\"))");
  CHECK(list("(c) x@y") == "((NIL NIL \"x\" \"y\"))");
  CHECK(list("x@y (c1) (c2)") == "((\"c2\" NIL \"x\" \"y\"))");
  CHECK(list("Foo (Bar) <a@b>") == "((\"Foo\" NIL \"a\" \"b\"))");
  CHECK(list("\"\" <x@y>") == "((NIL NIL \"x\" \"y\"))");
  CHECK(list("just") == "((NIL NIL \"just\" \"MISSING_DOMAIN\"))");
  CHECK(list("\"no addr\"") == "((\"no addr\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
  CHECK(list("a b c") == "((\"a b c\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
  CHECK(list("x@y, , z@w") ==
        "((NIL NIL \"x\" \"y\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"z\" \"w\"))");
  CHECK(list("\"a b\"@d") == "((NIL NIL \"a b\" \"d\"))");
  CHECK(list("x @ y . z") == "((NIL NIL \"x\" \"y.z\"))");
  CHECK(list("a@b.") == "((NIL NIL \"a\" \"MISSING_DOMAIN\"))");
  CHECK(list("Name <>") == "((\"Name\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
  CHECK(list("\"a\\\"b\" <x@y>") == "(({3}\r\na\"b NIL \"x\" \"y\"))");
  CHECK(list("x@y (  a   b )") == "(({3}\r\na b NIL \"x\" \"y\"))");
  CHECK(list("") == "NIL");
  CHECK(list("   ") == "NIL");
}

TEST_CASE("ENVELOPE fields: last Subject, every From, empty Sender falls back", "[imap][fetch]") {
  CHECK(envelope("Date:   Sat, 01 Feb 2007\n  01:02:03 +0200  \nSubject: one\nSubject:  two\t x \n"
                 "From: a@b\nFrom: c@d\nSender: \nIn-Reply-To:\nMessage-ID: <m@x>  \n\n") ==
        "(\"Sat, 01 Feb 2007  01:02:03 +0200  \" {5}\r\ntwo x ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) "
        "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL NIL "
        "\"\" \"<m@x>  \")");
  CHECK(envelope("\n") == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("IMAP strings: quoted when they can be, else literals", "[imap][fetch]") {
  CHECK(imap_string("a\"b") == "\"a\\\"b\"");
  CHECK(imap_string("\"\"\"\"\"") == "{5}\r\n\"\"\"\"\"");
  CHECK(imap_string("J\xc3\xb6rg") == "{5}\r\nJ\xc3\xb6rg");
  CHECK(imap_human("plain text") == "\"plain text\"");
  CHECK(imap_human("  ") == "\"\"");
  CHECK(imap_human("a\tb") == "{3}\r\na b");
}

namespace {

std::optional<std::string> bin(const Message& m, const std::string& spec, bool& decoded) {
  std::string text = spec + "]";
  Parser p(text);
  auto s = parse_section(p);
  REQUIRE(s);
  return binary_section(m, *s, decoded);
}

}  // namespace

TEST_CASE("BINARY undoes a part's transfer encoding and nothing else", "[imap][fetch]") {
  Message m(to_crlf(
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n"
      "--zz\nContent-Transfer-Encoding: base64\n\nYWJjAGRlZg0KZ2hpCg==\n"
      "--zz\nContent-Transfer-Encoding: Quoted-Printable\n\nhello=\nbar\nfoo=09bar \nx=3D=\n\n"
      "--zz\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n"
      "--zz\nContent-Transfer-Encoding: 8bit\n\nj\xc3\xb6rg\n--zz--\n"));
  bool decoded = false;
  CHECK(bin(m, "1", decoded) == std::string("abc\0def\r\nghi\n", 13));
  CHECK(decoded);
  CHECK(bin(m, "2", decoded) == "hellobar\r\nfoo\tbar\r\nx=");
  CHECK(decoded);
  CHECK_FALSE(bin(m, "3", decoded));
  CHECK(bin(m, "4", decoded) == "j\xc3\xb6rg");
  CHECK_FALSE(decoded);
  CHECK(bin(m, "1.MIME", decoded) == "Content-Transfer-Encoding: base64\r\n\r\n");
  CHECK(bin(m, "9", decoded) == "");
  CHECK_FALSE(bin(m, "", decoded));  // part 3 cannot be undone, so neither can the whole
}

TEST_CASE("BINARY of a whole message decodes each part and says so in its header", "[imap][fetch]") {
  Message m(to_crlf(
      "Subject: s\nContent-Type: multipart/mixed; boundary=zz\n\npre\n"
      "--zz\nContent-Transfer-Encoding: base64\nX-After: 1\n\nYWJj\n"
      "--zz\nContent-Type: message/rfc822\n\nSubject: in\nContent-Transfer-Encoding: quoted-printable\n\na=3Db\n"
      "--zz--\nepi\n"));
  bool decoded = false;
  CHECK(bin(m, "", decoded) ==
        "Subject: s\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\npre\r\n"
        "--zz\r\nX-After: 1\r\nContent-Transfer-Encoding: binary\r\n\r\nabc\r\n"
        "--zz\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Transfer-Encoding: binary\r\n\r\na=b\r\n"
        "--zz--\r\nepi\r\n");
  CHECK(decoded);
  CHECK(bin(m, "2", decoded) == "Subject: in\r\nContent-Transfer-Encoding: binary\r\n\r\na=b");
  CHECK(bin(m, "2.TEXT", decoded) == "a=b");
  CHECK(bin(m, "HEADER", decoded) == "Subject: s\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n");
  CHECK_FALSE(decoded);
  // Base64 Dovecot refuses (NO [PARSE]): a stray character, data after
  // the padding, a group cut short.
  for (const char* body : {"YW!Jj", "YQ==\nYWJj", "YWJjZ", "YQ"}) {
    Message b(to_crlf(std::string("Content-Transfer-Encoding: base64\n\n") + body + "\n"));
    Section whole;
    CHECK(binary_of(b, whole).error == BinaryError::invalid);
  }
  Message ok(to_crlf("Content-Transfer-Encoding: base64\n\nYW Jj\nYQ==\n\n"));
  CHECK(binary_of(ok, Section{}).data == "Content-Transfer-Encoding: binary\r\n\r\nabca");
}

TEST_CASE("PREVIEW: the first text, decoded, without quotes or markup", "[imap][fetch]") {
  CHECK(preview(Message(to_crlf("Subject: x\n\n\n"))) == "");
  CHECK(preview(Message(to_crlf("Content-Type: text/plain; charset=iso-8859-1\n"
                                "Content-Transfer-Encoding: quoted-printable\n\n"
                                "> quoted line\n\nHello   J=F6rg,\n\nbye\n"))) == "Hello J\xc3\xb6rg, bye");
  CHECK(preview(Message(to_crlf("Content-Type: text/html\n\n<html><head><style>p{}</style></head>"
                                "<body><p>Hi &amp; <b>there</b></p>\n<p>x</p></body></html>\n"))) ==
        "Hi & there x");
  std::string long_text(500, 'a');
  CHECK(preview(Message(to_crlf("Subject: x\n\n" + long_text + "\n"))).size() == 200);
  CHECK(preview(Message(to_crlf("Content-Type: image/png\n\nxx\n"))) == "");
  CHECK(preview(Message(to_crlf("Content-Type: message/rfc822\n\nSubject: in\n\ninner text\n"))) == "");
  std::string words;
  for (int i = 0; i < 100; ++i) words += "word ";
  CHECK(preview(Message(to_crlf("Subject: x\n\n" + words + "\n"))) == words.substr(0, 199));
}

TEST_CASE("EMAILID and THREADID are stable digests", "[imap][fetch]") {
  std::string h = "Message-ID: <a@b>\r\n\r\n";
  CHECK(email_id(h, 10) == email_id(h, 10));
  CHECK(email_id(h, 10) != email_id(h, 11));
  CHECK(email_id(h, 10).size() == 25);
  CHECK(email_id(h, 10).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  Message root(to_crlf("Message-ID: <root@x>\n\nhi\n"));
  Message reply(to_crlf("Message-ID: <r@x>\nIn-Reply-To: <root@x>\n\nhi\n"));
  Message deeper(to_crlf("Message-ID: <d@x>\nReferences: <root@x> <r@x>\nIn-Reply-To: <r@x>\n\nhi\n"));
  CHECK(thread_id(root) == thread_id(reply));
  CHECK(thread_id(root) == thread_id(deeper));
  CHECK(thread_id(root)->starts_with("T"));
  CHECK_FALSE(thread_id(Message(to_crlf("Subject: none\n\nhi\n"))));
}
