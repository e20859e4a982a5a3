"""imapd's folder commands and APPEND end to end: LIST, LSUB and
LIST-EXTENDED (RFC 3501, 5258) answered as Dovecot answers them, STATUS
and its extension items, APPEND and its extensions. A real tcpserver runs
bin/imapd as root; the client is a raw socket speaking the protocol (the
responses checked are exact lines, as a compliance suite checks them) or
Python's imaplib where it has the command."""
import os
import re
import unittest

from imap_raw import ImapTestCase

PASSWORD = "folders-pw"


def message(subject, body="hello\r\n"):
    return f"From: a@example.org\r\nSubject: {subject}\r\n\r\n{body}"


class Folders(ImapTestCase):
    USER = "ifold"
    PASSWORD = PASSWORD

    def lines(self, untagged, verb):
        return [u for u in untagged if u.upper().startswith(f"* {verb} ")]

    # -- LIST, LSUB, LIST-EXTENDED --------------------------------------

    def test_lsub_percent_shows_unsubscribed_parent_as_noselect(self):
        c = self.login()
        for n in ("ls", "ls.test", "ls.test2.test", "ls.test3.test3"):
            c.expect_ok(f"CREATE {n}")
        for n in ("ls.test", "ls.test2.test", "ls.test3.test3"):
            c.expect_ok(f"SUBSCRIBE {n}")
        got = self.lines(c.expect_ok('LSUB "" ls.%'), "LSUB")
        self.assertEqual(sorted(got), ['* LSUB () "." ls.test',
                                       '* LSUB (\\Noselect) "." ls.test2',
                                       '* LSUB (\\Noselect) "." ls.test3'])
        got = self.lines(c.expect_ok('LSUB "" *test'), "LSUB")
        self.assertEqual(sorted(got), ['* LSUB () "." ls.test', '* LSUB () "." ls.test2.test'])
        c.expect_ok("UNSUBSCRIBE ls.test2.test")
        got = self.lines(c.expect_ok('LSUB "" ls.*'), "LSUB")
        self.assertEqual(sorted(got), ['* LSUB () "." ls.test', '* LSUB () "." ls.test3.test3'])

    def test_list_extended_refuses_unknown_and_lone_options(self):
        c = self.login()
        for bad in ('LIST (imaptest) "" ""', 'LIST (recursivematch) "" ""',
                    'LIST (recursivematch remote) "" ""', 'LIST "" "" RETURN (imaptest)',
                    'LIST "" % RETURN (STATUS (MESSAGES BOGUS))', 'LIST (subscribed "" %'):
            tagged, _ = c.cmd(bad)
            self.assertRegex(tagged, r"^t\d+ BAD ", bad)
        self.assertTrue(self.lines(c.expect_ok('LIST (remote) "" %'), "LIST"))

    def listext_tree(self, c, top):
        for n in ("test1", "test2", "test2.test1", "test3", "test4.test5", "test4.test52", "test6",
                  "test7.test7", "test8.test8", "test8.test9"):
            c.expect_ok(f"CREATE {top}.{n}")
        for n in ("test1", "test2.test1", "test6", "test7.test7", "test8.test8", "test8.test9"):
            c.expect_ok(f"SUBSCRIBE {top}.{n}")
        c.expect_ok(f"DELETE {top}.test6")

    def test_list_extended_subscribed_recursivematch_childinfo(self):
        c = self.login()
        t = "lx"
        self.listext_tree(c, t)
        got = self.lines(c.expect_ok(f'LIST (SUBSCRIBED) "" {t}.*'), "LIST")
        self.assertEqual(got, [f'* LIST (\\Subscribed) "." {t}.test1',
                               f'* LIST (\\Subscribed) "." {t}.test2.test1',
                               f'* LIST (\\Subscribed \\NonExistent) "." {t}.test6',
                               f'* LIST (\\Subscribed) "." {t}.test7.test7',
                               f'* LIST (\\Subscribed) "." {t}.test8.test8',
                               f'* LIST (\\Subscribed) "." {t}.test8.test9'])
        got = self.lines(c.expect_ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" {t}.test2% RETURN (CHILDREN)'), "LIST")
        self.assertEqual(got, [f'* LIST (\\HasChildren) "." {t}.test2 ("CHILDINFO" ("SUBSCRIBED"))'])
        got = self.lines(c.expect_ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" *test7'), "LIST")
        self.assertEqual(got, [f'* LIST (\\Subscribed) "." {t}.test7.test7'])
        got = self.lines(c.expect_ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8'), "LIST")
        self.assertEqual(got, [f'* LIST (\\NonExistent) "." {t}.test8 ("CHILDINFO" ("SUBSCRIBED"))',
                               f'* LIST (\\Subscribed) "." {t}.test8.test8'])
        got = self.lines(c.expect_ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" ({t}.test2 {t}.test2.test1)'), "LIST")
        self.assertEqual(got, [f'* LIST (\\Subscribed) "." {t}.test2.test1'])
        got = self.lines(c.expect_ok(f'LIST "" {t}.% RETURN (CHILDREN SUBSCRIBED)'), "LIST")
        self.assertEqual(got, [f'* LIST (\\Subscribed \\HasNoChildren) "." {t}.test1',
                               f'* LIST (\\HasChildren) "." {t}.test2',
                               f'* LIST (\\HasNoChildren) "." {t}.test3',
                               f'* LIST (\\NonExistent \\HasChildren) "." {t}.test4',
                               f'* LIST (\\NonExistent \\HasChildren) "." {t}.test7',
                               f'* LIST (\\NonExistent \\HasChildren) "." {t}.test8'])
        # Without options LIST is RFC 3501's: \Noselect, children always.
        got = self.lines(c.expect_ok(f'LIST "" ({t}.test7 {t}.test7.test7)'), "LIST")
        self.assertEqual(got, [f'* LIST (\\Noselect \\HasChildren) "." {t}.test7',
                               f'* LIST (\\HasNoChildren) "." {t}.test7.test7'])
        got = self.lines(c.expect_ok(f'LIST "" ({t}.*2 {t}.test3)'), "LIST")
        self.assertEqual([g.split()[-1] for g in got], [f"{t}.test2", f"{t}.test3", f"{t}.test4.test52"])

    def test_list_root_and_inbox(self):
        c = self.login()
        self.assertEqual(self.lines(c.expect_ok('LIST "" ""'), "LIST"), ['* LIST (\\Noselect) "." ""'])
        got = self.lines(c.expect_ok('LIST "" inbox'), "LIST")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].endswith('"." INBOX'), got)

    # -- STATUS -----------------------------------------------------------

    def test_status_size(self):
        c = self.login()
        c.expect_ok("CREATE st")
        m1, m2 = message("one"), message("two", "a longer body\r\n")
        c.expect_ok("APPEND st {}", m1)
        c.expect_ok("APPEND st (\\Seen) {}", m2)
        got = self.lines(c.expect_ok("STATUS st (MESSAGES UNSEEN SIZE UIDNEXT)"), "STATUS")
        self.assertEqual(got, [f"* STATUS st (MESSAGES 2 UNSEEN 1 SIZE {len(m1) + len(m2)} UIDNEXT 3)"])
        tagged, _ = c.cmd("STATUS st (MESSAGES BOGUS)")
        self.assertRegex(tagged, r"^t\d+ BAD ")

    # -- APPEND -----------------------------------------------------------

    def cur_files(self, folder):
        d = os.path.join(self.user.maildir, "." + folder, "cur")
        return sorted(os.listdir(d))

    def test_multiappend_all_or_nothing(self):
        c = self.login()
        c.expect_ok("CREATE ma")
        m1, m2, m3 = message("one"), message("two"), message("three")
        tagged, _ = c.cmd('APPEND ma (\\Seen) "01-Jan-2024 10:00:00 +0000" {} (\\Flagged $Work) {} {}', m1, m2, m3)
        self.assertRegex(tagged, r"^t\d+ OK \[APPENDUID \d+ 1:3\] ")
        files = self.cur_files("ma")
        self.assertEqual(len(files), 3)
        got = c.expect_ok("EXAMINE ma")
        self.assertIn("* 3 EXISTS", got)
        got = c.expect_ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        text = "\n".join(got)
        self.assertRegex(text, r"INTERNALDATE \"01-Jan-2024 \d\d:00:00 [+-]\d{4}\"")
        flags = re.search(r"\* 2 FETCH \(FLAGS \(([^)]*)\)", text).group(1).split()
        self.assertEqual(sorted(flags), ["$Work", "\\Flagged", "\\Recent"])
        self.assertIn("Subject: three", text)
        # A zero-length message cancels the whole command (RFC 3502).
        tagged, _ = c.cmd("APPEND ma {} {}", message("four"), "")
        self.assertRegex(tagged, r"^t\d+ NO ")
        # A bad flag on the second message: BAD, and nothing stored.
        tagged, _ = c.cmd("APPEND ma {} (\\Bogus) {}", message("five"), message("six"))
        self.assertRegex(tagged, r"^t\d+ BAD ")
        self.assertEqual(self.cur_files("ma"), files)
        self.assertEqual(os.listdir(os.path.join(self.user.maildir, ".ma", "tmp")), [])
        tagged, _ = c.cmd("APPEND nosuch {} {}", m1, m2)
        self.assertRegex(tagged, r"^t\d+ NO \[TRYCREATE\]")
        # A literal8 (RFC 3516) is a message too.
        m4 = message("eight").encode()
        tag = c.next_tag()
        c.send(f"{tag} APPEND ma (\\Draft) ~{{{len(m4)}+}}\r\n".encode() + m4 + b"\r\n")
        tagged, _ = c.finish(tag)
        self.assertRegex(tagged, rf"^{tag} OK \[APPENDUID \d+ 4\] ")

    def test_appendlimit_advertised_and_enforced(self):
        c = self.login()
        caps = " ".join(c.expect_ok("CAPABILITY"))
        m = re.search(r" APPENDLIMIT=(\d+)", caps)
        self.assertTrue(m, caps)
        self.assertIn(" MULTIAPPEND", caps)
        limit = int(m.group(1))
        got = self.lines(c.expect_ok("STATUS INBOX (APPENDLIMIT)"), "STATUS")
        self.assertEqual(got, [f"* STATUS INBOX (APPENDLIMIT {limit})"])
        # A synchronizing literal one byte over: NO [TOOBIG], no data sent.
        tag = c.next_tag()
        c.send(f"{tag} APPEND INBOX {{{limit + 1}}}\r\n")
        self.assertRegex(c.response(), rf"^{tag} NO \[TOOBIG\]")
        c.expect_ok("NOOP")

    def bodies(self, c, folder):
        c.expect_ok(f"EXAMINE {folder}")
        got = c.expect_ok("FETCH 1:* BODY.PEEK[]")
        return [g.split("\r\n", 1)[1].rsplit(")", 1)[0] for g in got if " FETCH " in g]

    def test_catenate(self):
        c = self.login()
        self.assertIn(" CATENATE", " ".join(c.expect_ok("CAPABILITY")))
        c.expect_ok("CREATE ca")
        c.expect_ok("CREATE ca2")
        one = "From: foo@example.com\r\n\r\nHello world body\r\n"
        two = "From: foo2@example.com\r\n\r\nLookslike: header\r\n\r\nAnother body\r\n"
        c.expect_ok("APPEND ca (\\Seen) CATENATE (TEXT {})", one)
        c.expect_ok("APPEND ca CATENATE (TEXT {} TEXT {})", two[:10], two[10:])
        self.assertEqual(self.bodies(c, "ca"), [one, two])
        got = c.expect_ok("STATUS ca (UIDVALIDITY)")
        v = re.search(r"UIDVALIDITY (\d+)", got[0]).group(1)
        c.expect_ok('APPEND ca2 CATENATE (URL "/ca/;UID=1/;SECTION=HEADER" TEXT {})', "body1\r\n")
        c.expect_ok(f'APPEND ca2 CATENATE (URL "/ca;UIDVALIDITY={v}/;UID=2/;SECTION=TEXT" TEXT {{}})', "body2\r\n")
        c.expect_ok('APPEND ca2 CATENATE (TEXT {} URL "/ca/;UID=1/;SECTION=1" TEXT {})',
             "From: new@example.com\r\n\r\n", "suffix\r\n")
        c.expect_ok('APPEND ca2 CATENATE (URL "/ca/;UID=2/;PARTIAL=100000.1" TEXT {})', "Hdr: foo\r\n\r\nbody4\r\n")
        # MULTIAPPEND with CATENATE, a URL-only message among them.
        c.expect_ok('APPEND ca2 CATENATE (URL "/ca/;UID=1") (\\Answered) {}', "New: Message\r\n\r\nbody5\r\n")
        self.assertEqual(self.bodies(c, "ca2"), [
            "From: foo@example.com\r\n\r\nbody1\r\n",
            "Lookslike: header\r\n\r\nAnother body\r\nbody2\r\n",
            "From: new@example.com\r\n\r\nHello world body\r\nsuffix\r\n",
            "Hdr: foo\r\n\r\nbody4\r\n",
            one,
            "New: Message\r\n\r\nbody5\r\n"])
        before = self.cur_files("ca2")
        for bad in (f'APPEND ca2 CATENATE (URL "/ca;UIDVALIDITY=12345/;UID=1/;SECTION=HEADER" TEXT {{}})',
                    'APPEND ca2 CATENATE (TEXT {} URL "/ca/;UID=99")',
                    'APPEND ca2 CATENATE (URL "imap://someone@elsewhere/ca/;UID=1")',
                    'APPEND ca2 CATENATE (URL "/ca/;UID=1") CATENATE (URL "/nosuch/;UID=1")'):
            tagged, _ = c.cmd(bad, *(["x: y\r\n\r\n"] * bad.count("{}")))
            self.assertRegex(tagged, r"^t\d+ NO \[BADURL ", bad)
        self.assertEqual(self.cur_files("ca2"), before)
        tagged, _ = c.cmd('APPEND nosuch CATENATE (TEXT {} URL "/ca;UIDVALIDITY=12345/;UID=1")', "h: 1\r\n\r\n")
        self.assertRegex(tagged, r"^t\d+ NO \[TRYCREATE\]")
        tagged, _ = c.cmd('APPEND ca2 CATENATE (TEXT {} BOGUS "x")', "h: 1\r\n\r\n")
        self.assertRegex(tagged, r"^t\d+ BAD ")
        # At most 100 URLs in one command: each one reads a message file.
        tagged, _ = c.cmd("APPEND ca2 CATENATE (" + " ".join(['URL "/ca/;UID=1"'] * 101) + ")")
        self.assertRegex(tagged, r"^t\d+ BAD ")
        self.assertEqual(self.cur_files("ca2"), before)

    def test_status_recent_modseq_mailboxid(self):
        c = self.login()
        tagged, _ = c.cmd("CREATE sr")
        m = re.search(r"OK \[MAILBOXID \(([0-9a-f]{32})\)\]", tagged)
        self.assertTrue(m, tagged)
        c.expect_ok("APPEND sr {}", message("one"))
        c.expect_ok("APPEND sr (\\Seen) {}", message("two"))
        got = self.lines(c.expect_ok("STATUS sr (MESSAGES RECENT MAILBOXID)"), "STATUS")
        self.assertEqual(got, [f"* STATUS sr (MESSAGES 2 RECENT 2 MAILBOXID ({m.group(1)}))"])
        got = self.lines(c.expect_ok("STATUS sr (HIGHESTMODSEQ)"), "STATUS")
        first = int(re.search(r"HIGHESTMODSEQ (\d+)", got[0]).group(1))
        self.assertGreaterEqual(first, 1)
        other = self.login()
        other.expect_ok("SELECT sr")
        other.expect_ok("STORE 1 +FLAGS (\\Flagged)")
        got = self.lines(c.expect_ok("STATUS sr (RECENT HIGHESTMODSEQ)"), "STATUS")
        # The other session claimed \Recent; the STORE raised HIGHESTMODSEQ.
        self.assertRegex(got[0], r"RECENT 0 HIGHESTMODSEQ \d+")
        self.assertGreater(int(re.search(r"HIGHESTMODSEQ (\d+)", got[0]).group(1)), first)
        # A folder deleted and made again is a new folder: a new MAILBOXID.
        c.expect_ok("DELETE sr")
        tagged, _ = c.cmd("CREATE sr")
        self.assertNotIn(m.group(1), tagged)

    def test_utf8_accept_names(self):
        c = self.login()
        self.assertIn(" UTF8=ACCEPT", " ".join(c.expect_ok("CAPABILITY")))
        c.expect_ok('CREATE "Entw&APw-rfe"')
        c.expect_ok("ENABLE UTF8=ACCEPT")
        got = self.lines(c.expect_ok('LIST "" "Entw*"'), "LIST")
        self.assertEqual(got, ['* LIST (\\HasNoChildren) "." "Entwürfe"'])
        c.expect_ok('CREATE "Grüße & Co"')
        self.assertTrue(os.path.isdir(os.path.join(self.user.maildir, ".Gr&APwA3w-e &- Co")))
        msg = "From: a@example.org\r\nSubject: Grüße\r\n\r\nhi\r\n".encode()
        tag = c.next_tag()
        c.send(f'{tag} APPEND "Grüße & Co" UTF8 (~{{{len(msg)}+}}\r\n'.encode() + msg + b")\r\n")
        tagged, _ = c.finish(tag)
        self.assertRegex(tagged, rf"^{tag} OK \[APPENDUID \d+ 1\]")
        got = self.lines(c.expect_ok('STATUS "Grüße & Co" (MESSAGES)'), "STATUS")
        self.assertEqual(got, ['* STATUS "Grüße & Co" (MESSAGES 1)'])

    def test_urlauth(self):
        c = self.login()
        caps = " ".join(c.expect_ok("CAPABILITY"))
        self.assertIn(" URLAUTH", caps)
        c.expect_ok("CREATE ua")
        m1, m2 = message("one"), message("two", "second body\r\n")
        c.expect_ok("APPEND ua {}", m1)
        c.expect_ok("APPEND ua {}", m2)
        me = self.user.name
        urls = []
        for uid, section in ((1, ""), (2, "/;SECTION=TEXT")):
            got = c.expect_ok(f'GENURLAUTH "imap://{me}@localhost/ua/;UID={uid}{section};URLAUTH=user+{me}" INTERNAL')
            m = re.fullmatch(r'\* GENURLAUTH "(imap://[^"]+:INTERNAL:[0-9a-f]{64})"', got[0])
            self.assertTrue(m, got)
            urls.append(m.group(1))
        key = os.path.join(self.user.maildir, "postern-urlauth")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(key).st_uid, self.user.uid)
        got = c.expect_ok(f'URLFETCH "{urls[0]}" "{urls[1]}"')
        self.assertEqual(got, [f'* URLFETCH "{urls[0]}" {{{len(m1)}}}\r\n{m1}',
                               f'* URLFETCH "{urls[1]}" {{13}}\r\nsecond body\r\n'])
        # Another session of the user fetches it too; a changed token or
        # URL does not.
        other = self.login()
        self.assertEqual(other.expect_ok(f'URLFETCH "{urls[0]}"'), [f'* URLFETCH "{urls[0]}" {{{len(m1)}}}\r\n{m1}'])
        forged = urls[0][:-1] + ("0" if urls[0][-1] != "0" else "1")
        moved = urls[0].replace(";UID=1;", ";UID=2;")
        for bad in (forged, moved):
            self.assertEqual(c.expect_ok(f'URLFETCH "{bad}"'), [f'* URLFETCH "{bad}" NIL'])
        # Someone else's URL, an unknown mechanism, a URL without URLAUTH: NO.
        for bad in (f'"imap://nobody@localhost/ua/;UID=1;URLAUTH=user+nobody" INTERNAL',
                    f'"imap://{me}@localhost/ua/;UID=1;URLAUTH=user+{me}" XSECRET',
                    f'"imap://{me}@localhost/ua/;UID=1" INTERNAL'):
            tagged, _ = c.cmd("GENURLAUTH " + bad)
            self.assertRegex(tagged, r"^t\d+ NO ", bad)
        c.expect_ok("RESETKEY ua")
        self.assertEqual(c.expect_ok(f'URLFETCH "{urls[0]}"'), [f'* URLFETCH "{urls[0]}" NIL'])
        tagged, _ = c.cmd("RESETKEY nosuch")
        self.assertRegex(tagged, r"^t\d+ NO ")
        # A signed URL in CATENATE is checked as URLFETCH checks it.
        got = c.expect_ok(f'GENURLAUTH "imap://{me}@localhost/ua/;UID=2/;SECTION=TEXT;URLAUTH=user+{me}" INTERNAL')
        signed = re.search(r'"(.*)"', got[0]).group(1)
        c.expect_ok(f'APPEND ua CATENATE (TEXT {{}} URL "{signed}")', "Subject: via urlauth\r\n\r\n")
        tagged, _ = c.cmd(f'APPEND ua CATENATE (TEXT {{}} URL "{signed[:-1]}x")', "Subject: x\r\n\r\n")
        self.assertRegex(tagged, r"^t\d+ NO \[BADURL ")
        self.assertEqual(self.bodies(c, "ua")[-1], "Subject: via urlauth\r\n\r\nsecond body\r\n")
