"""What FETCH returns, byte for byte, from a real imapd under a real
tcpserver: sections inside attached messages (RFC 3501 6.4.5), ENVELOPE
with groups, routes and odd addresses, BODYSTRUCTURE, BINARY (RFC 3516),
PREVIEW, SAVEDATE and the OBJECTID items. The expected answers are what
Dovecot 2.3 sends for the same message (the compliance suite compares the
two servers), written out here so the test needs no Dovecot. Messages go
in with APPEND, as the compliance scripts put them."""
import re
import unittest

from imap_raw import ImapTestCase, as_bytes, is_ok


def lit(text):
    """The literal a server sends for text given with LF line ends."""
    data = text.replace("\n", "\r\n").encode()
    return b"{%d}\r\n" % len(data) + data


RFC822 = ("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
          "Content-Type: message/rfc822\n\n"
          "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n")

RFC822_X2 = ("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
             "Content-Type: message/rfc822\n\n"
             "From: user2@domain.org\nDate: Fri, 23 Mar 2007 11:22:33 +0200\nMime-Version: 1.0\n"
             "Content-Type: message/rfc822\n\n"
             "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n")

RFC822_DIGEST = ("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
                 "Content-Type: message/rfc822\n\n"
                 "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
                 "Content-Type: multipart/digest; boundary=\"foo\"\n\nprologue\n\n--foo \n\n"
                 "From: m1@example.com\nSubject: m1\n\nm1 body\n\n--foo \nX-Mime: m2 header\n\n"
                 "From: m2@example.com\nSubject: m2\n\nm2 body\n\n--foo--\n\nepilogue\n")

MIXED = ("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n"
         "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\nhello\n\n"
         "--foo bar\nContent-Type: message/rfc822\n\n"
         "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n"
         "Content-Type: multipart/alternative; boundary=\"sub1\"\n\nSub MIME prologue\n"
         "--sub1\nContent-Type: text/html\n\n<p>Hello world</p>\n\n"
         "--sub1\nContent-Type: text/plain\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n\n"
         "--foo bar--\nRoot MIME epilogue\n")


class Fetch(ImapTestCase):
    USER = "falice"
    folders = 0

    def mailbox(self, *messages):
        """A new folder holding the messages, selected in a new session."""
        Fetch.folders += 1
        name = f"f{Fetch.folders}"
        c = self.login()
        c.cmd(f"CREATE {name}")
        for m in messages:
            data = as_bytes(m) if isinstance(m, str) else m
            c.expect_ok(f"APPEND {name} {{}}", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        c.expect_ok(f"SELECT {name}")
        return c

    def fetch(self, c, items, seq="1"):
        """The untagged answer to FETCH as its wire bytes."""
        ok, untagged = c.cmd(f"FETCH {seq} {items}")
        self.assertTrue(is_ok(ok), untagged)
        return as_bytes("".join(u + "\r\n" for u in untagged))

    def assertFetch(self, c, item, expected_name, expected):
        got = self.fetch(c, f"({item})")
        self.assertEqual(got, b"* 1 FETCH (" + expected_name.encode() + b" " + expected + b")\r\n")

    # -- sections inside message/rfc822 (the defect: BODY[1.1] gave the whole
    # inner message and BODY[1.2], [1.2.MIME], [1.2.HEADER] gave "")
    def test_sections_of_an_attached_message(self):
        c = self.mailbox(RFC822)
        inner = RFC822.split("\n\n", 1)[1]
        self.assertFetch(c, "BODY.PEEK[1]", "BODY[1]", lit(inner))
        self.assertFetch(c, "BODY.PEEK[TEXT]", "BODY[TEXT]", lit(inner))
        self.assertFetch(c, "BODY.PEEK[1.HEADER]", "BODY[1.HEADER]",
                         lit("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.HEADER.FIELDS (from subject X-foo)]",
                         "BODY[1.HEADER.FIELDS (FROM SUBJECT X-FOO)]",
                         lit("From: sub@domain.org\nSubject: submsg\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.TEXT]", "BODY[1.TEXT]", lit("Hello world\n"))
        self.assertFetch(c, "BODY.PEEK[1.1]", "BODY[1.1]", lit("Hello world\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.1]", "BODY[1.1.1]", b"{0}\r\n")

    def test_message_inside_a_message(self):
        c = self.mailbox(RFC822_X2)
        innermost = "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n"
        self.assertFetch(c, "BODY.PEEK[1.1]", "BODY[1.1]", lit(innermost))
        self.assertFetch(c, "BODY.PEEK[1.TEXT]", "BODY[1.TEXT]", lit(innermost))
        self.assertFetch(c, "BODY.PEEK[1.1.1]", "BODY[1.1.1]", lit("Hello world\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.HEADER]", "BODY[1.1.HEADER]", lit(innermost.split("\n\n")[0] + "\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.TEXT]", "BODY[1.1.TEXT]", lit("Hello world\n"))
        self.assertFetch(c, "BODY.PEEK[1.HEADER]", "BODY[1.HEADER]",
                         lit("From: user2@domain.org\nDate: Fri, 23 Mar 2007 11:22:33 +0200\nMime-Version: 1.0\n"
                             "Content-Type: message/rfc822\n\n"))

    def test_multipart_inside_a_message(self):
        c = self.mailbox(RFC822_DIGEST)
        self.assertFetch(c, "BODY.PEEK[1.1]", "BODY[1.1]", lit("From: m1@example.com\nSubject: m1\n\nm1 body\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.MIME]", "BODY[1.1.MIME]", lit("\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.HEADER]", "BODY[1.1.HEADER]", lit("From: m1@example.com\nSubject: m1\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.1.TEXT]", "BODY[1.1.TEXT]", lit("m1 body\n"))
        self.assertFetch(c, "BODY.PEEK[1.2]", "BODY[1.2]", lit("From: m2@example.com\nSubject: m2\n\nm2 body\n"))
        self.assertFetch(c, "BODY.PEEK[1.2.MIME]", "BODY[1.2.MIME]", lit("X-Mime: m2 header\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.2.HEADER]", "BODY[1.2.HEADER]", lit("From: m2@example.com\nSubject: m2\n\n"))
        self.assertFetch(c, "BODY.PEEK[1.2.TEXT]", "BODY[1.2.TEXT]", lit("m2 body\n"))

    def test_sections_of_a_mixed_message(self):
        c = self.mailbox(MIXED)
        self.assertFetch(c, "BODY.PEEK[1]", "BODY[1]", lit("hello\n"))
        self.assertFetch(c, "BODY.PEEK[1.MIME]", "BODY[1.MIME]",
                         lit("Content-Type: text/x-myown; charset=us-ascii\n\n"))
        self.assertFetch(c, "BODY.PEEK[2.MIME]", "BODY[2.MIME]", lit("Content-Type: message/rfc822\n\n"))
        self.assertFetch(c, "BODY.PEEK[2.1.MIME]", "BODY[2.1.MIME]", lit("Content-Type: text/html\n\n"))
        self.assertFetch(c, "BODY.PEEK[2.1]", "BODY[2.1]", lit("<p>Hello world</p>\n"))
        self.assertFetch(c, "BODY.PEEK[2.2]", "BODY[2.2]", lit("Hello another world\n"))
        self.assertFetch(c, "BODY.PEEK[2.HEADER.FIELDS.NOT (from subject)]", "BODY[2.HEADER.FIELDS.NOT (FROM SUBJECT)]",
                         lit("Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
                             "Content-Type: multipart/alternative; boundary=\"sub1\"\n\n"))
        # a part that does not exist: empty, not an error; a single part is
        # its own part 1
        self.assertFetch(c, "BODY.PEEK[3]", "BODY[3]", b"{0}\r\n")
        self.assertFetch(c, "BODY.PEEK[1.1]", "BODY[1.1]", lit("hello\n"))

    # -- ENVELOPE (the defect: empty groups and source routes were dropped)
    def test_envelope_groups_routes_and_odd_addresses(self):
        c = self.mailbox(
            "Date: Sat, 01 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\n"
            "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\nCc: undisclosed-recipients:;\n"
            "Bcc: <@route:user@domain>, just, \"no addr\"\nSender: \nIn-Reply-To:\n\nbody\n",
            "Date: Sat, 01 Feb 2007 01:02:03 +0200\nSubject:  two\t spaces \nFrom: \"a\\\"b\" <x@y>, c@d\n"
            "From: e@f\nMessage-ID: <m@x>  \n\nbody\n")
        got = self.fetch(c, "ENVELOPE", "1:2")
        self.assertEqual(got.decode(),
                         '* 1 FETCH (ENVELOPE ("Sat, 01 Feb 2007 01:02:03 +0200" NIL'
                         ' (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain"))'
                         ' (("Real Name" NIL "user" "domain"))'
                         ' ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)'
                         '(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))'
                         ' ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))'
                         ' ((NIL "@route" "user" "domain")(NIL NIL "just" "MISSING_DOMAIN")'
                         '("no addr" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) "" NIL))\r\n'
                         '* 2 FETCH (ENVELOPE ("Sat, 01 Feb 2007 01:02:03 +0200" {10}\r\ntwo spaces'
                         ' (({3}\r\na"b NIL "x" "y")(NIL NIL "c" "d")(NIL NIL "e" "f"))'
                         ' (({3}\r\na"b NIL "x" "y")(NIL NIL "c" "d")(NIL NIL "e" "f"))'
                         ' (({3}\r\na"b NIL "x" "y")(NIL NIL "c" "d")(NIL NIL "e" "f")) NIL NIL NIL NIL "<m@x>  "))\r\n')

    def test_bodystructure_as_written(self):
        c = self.mailbox(
            "From: a@b\nSubject: x\nContent-Type: MULTIPART/Mixed; boundary=\"zz\"; Foo=Bar\n"
            "Content-Language: en, de\nContent-Location: http://x/y\n\npre\n"
            "--zz\nContent-Type: Text/Plain; CHARSET=\"UTF-8\"; format=flowed\n"
            "Content-Transfer-Encoding: Quoted-Printable\nContent-ID: <id1@x>\nContent-Description: desc \"q\"\n"
            "Content-MD5: abc=\nContent-Disposition: attachment; filename=\"a b.txt\"; size=5\n"
            "Content-Language: fr\n\nhello=\n there\n"
            "--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n"
            "--zz\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: i@j\n\ninner body\n"
            "--zz\nContent-Disposition: inline\n\nno type\n--zz\nContent-Type: text\n\nbad type\n--zz--\n",
            "From: a@b\nContent-Language: en\nContent-Transfer-Encoding: 8bit\n\nbody\n",
            MIXED)
        got = self.fetch(c, "BODYSTRUCTURE", "1:3")
        self.assertEqual(got.decode(),
                         '* 1 FETCH (BODYSTRUCTURE (("Text" "Plain" ("CHARSET" "UTF-8" "format" "flowed") "<id1@x>"'
                         ' "desc \\"q\\"" "Quoted-Printable" 14 1 "abc=" ("attachment" ("filename" "a b.txt" "size" "5"))'
                         ' ("fr") NIL)("application" "octet-stream" NIL NIL NIL "base64" 4 NIL NIL NIL NIL)'
                         '("message" "rfc822" NIL NIL NIL "7bit" 39 (NIL "inner" ((NIL NIL "i" "j")) ((NIL NIL "i" "j"))'
                         ' ((NIL NIL "i" "j")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit"'
                         ' 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit"'
                         ' 7 0 NIL ("inline" NIL) NIL NIL)("text" "" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL'
                         ' NIL NIL) "Mixed" ("boundary" "zz" "Foo" "Bar") NIL ("en" "de") "http://x/y"))\r\n'
                         '* 2 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1'
                         ' NIL NIL NIL NIL))\r\n'
                         '* 3 FETCH (BODYSTRUCTURE (("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1'
                         ' NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 298 ("Sun, 12 Aug 2012 12:34:56 +0300"'
                         ' "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub"'
                         ' "domain.org")) NIL NIL NIL NIL NIL) (("text" "html" ("charset" "us-ascii") NIL NIL "7bit"'
                         ' 20 1 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL'
                         ' NIL) "alternative" ("boundary" "sub1") NIL NIL NIL) 18 NIL NIL NIL NIL) "mixed"'
                         ' ("boundary" "foo bar") NIL NIL NIL))\r\n')
        got = self.fetch(c, "BODY", "2")
        self.assertEqual(got, b'* 2 FETCH (BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1))\r\n')

    # -- BINARY (RFC 3516)
    BINARY_MSG = ("From: a@b\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n"
                  "--zz\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n"
                  "--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                  "YWJjAGRlZg0KZ2hpCg==\n"
                  "--zz\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
                  "hello=\nbar\nfoo=09bar \nx=3D=\n\n"
                  "--zz\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n"
                  "--zz\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nplain\n--zz--\n")

    def test_binary(self):
        c = self.mailbox(self.BINARY_MSG)
        self.assertEqual(self.fetch(c, "BINARY.PEEK[2]"),
                         b"* 1 FETCH (BINARY[2] ~{13}\r\nabc\0def\r\nghi\n)\r\n")
        self.assertEqual(self.fetch(c, "BINARY.PEEK[3]"),
                         b"* 1 FETCH (BINARY[3] ~{21}\r\nhellobar\r\nfoo\tbar\r\nx=)\r\n")
        self.assertEqual(self.fetch(c, "BINARY.PEEK[5]"), b"* 1 FETCH (BINARY[5] {5}\r\nplain)\r\n")
        self.assertEqual(self.fetch(c, "(BINARY.PEEK[2]<2.3> BINARY.PEEK[2]<4> BINARY.PEEK[2]<90.10>)"),
                         b"* 1 FETCH (BINARY[2]<2> ~{3}\r\nc\0d BINARY[2]<4> ~{9}\r\ndef\r\nghi\n"
                         b" BINARY[2]<90> ~{0}\r\n)\r\n")
        self.assertEqual(self.fetch(c, "(BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[5])"),
                         b"* 1 FETCH (BINARY.SIZE[1] 11 BINARY.SIZE[2] 13 BINARY.SIZE[5] 5)\r\n")
        self.assertEqual(self.fetch(c, "BINARY.PEEK[1.MIME]"),
                         b"* 1 FETCH (BINARY[1.MIME] " + lit("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n") + b")\r\n")
        self.assertEqual(self.fetch(c, "BINARY.PEEK[9]"), b"* 1 FETCH (BINARY[9] {0}\r\n)\r\n")
        ok, untagged = c.cmd("FETCH 1 (UID BINARY.PEEK[4])")
        self.assertEqual(untagged, [])
        self.assertTrue(ok.startswith("t") and " NO [UNKNOWN-CTE]" in ok, ok)
        # BINARY without .PEEK sets \\Seen, as BODY does
        got = self.fetch(c, "BINARY[1]")
        self.assertTrue(got.startswith(b"* 1 FETCH (BINARY[1] ~{11}\r\nhello world"), got)
        self.assertIn(b"\\Seen", got)
        self.assertIn("unknown Content-Transfer-Encoding", self.server.log())
        ok, _ = c.cmd("FETCH 1 BINARY[1.MIME]<0>")
        self.assertIn(" OK", ok)
        ok, _ = c.cmd("FETCH 1 BINARY.SIZE[1]<0.1>")
        self.assertIn(" BAD", ok)

    # -- PREVIEW (RFC 8970), SAVEDATE (RFC 8514), EMAILID/THREADID (RFC 8474)
    def test_preview_savedate_objectid(self):
        c = self.mailbox(
            "Message-ID: <root@x>\nContent-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: quoted-printable\n\n> quoted\n\nHello   J=F6rg,\n\nbye\n",
            "Message-ID: <reply@x>\nIn-Reply-To: <root@x>\nContent-Type: text/html\n\n"
            "<html><head><style>p{}</style></head><body><p>Hi &amp; <b>there</b></p>\n<p>x</p></body></html>\n",
            "Subject: none\n\n\n")
        got = self.fetch(c, "PREVIEW", "1:3")
        self.assertEqual(got, b"* 1 FETCH (PREVIEW {16}\r\nHello J\xc3\xb6rg, bye)\r\n"
                              b'* 2 FETCH (PREVIEW "Hi & there x")\r\n* 3 FETCH (PREVIEW "")\r\n')
        self.assertEqual(self.fetch(c, "(PREVIEW (LAZY))", "3"), b'* 3 FETCH (PREVIEW "")\r\n')
        ok, _ = c.cmd("FETCH 1 (PREVIEW (EAGER))")
        self.assertIn(" BAD", ok)
        got = self.fetch(c, "SAVEDATE", "1")
        m = re.match(rb'\* 1 FETCH \(SAVEDATE "(\d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"\)\r\n$', got)
        self.assertTrue(m, got)
        ids = self.fetch(c, "(EMAILID THREADID)", "1:3")
        lines = ids.decode().splitlines()
        e = [re.search(r"EMAILID \((M[A-Za-z0-9_-]{24})\)", ln).group(1) for ln in lines]
        t = [re.search(r"THREADID (\(T[A-Za-z0-9_-]{24}\)|NIL)", ln).group(1) for ln in lines]
        self.assertEqual(len(set(e)), 3)
        self.assertEqual(t[0], t[1])  # a reply is in its parent's thread
        self.assertEqual(t[2], "NIL")
        # the same message in another folder keeps its EMAILID
        ok, _ = c.cmd("COPY 1 INBOX")
        self.assertIn(" OK", ok)
        c.cmd("SELECT INBOX")
        last = self.fetch(c, "EMAILID", "*")
        self.assertIn(e[0].encode(), last)
        _, caps = c.cmd("CAPABILITY")
        for cap in (" BINARY", " PREVIEW", " SAVEDATE"):
            self.assertIn(cap, "\n".join(caps))


if __name__ == "__main__":
    unittest.main()
