"""NOTIFY (RFC 5465) and IDLE in imapd, as a user of two clients sees
them: one real user, two sessions through a real tcpserver, raw sockets
(imap_raw) so every unsolicited response is seen, and Python's imaplib.
Session 1 asks with NOTIFY SET; session 2 (or a delivery written into
the Maildir) changes things; session 1 must hear of each change within
a bound (WITHIN seconds) without sending a command, and hear nothing
after NOTIFY NONE. Bad filters and events get RFC 5465's answers. IDLE
is held to the session's deadline (control/deadlineimapd), goes on
working over a quiet wait, and sees a DONE that COMPRESS's inflater
already holds."""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import time
import zlib

from imap_raw import ImapTestCase, is_ok

WITHIN = 5  # seconds: inotify answers at once; generous for a busy machine
# A delivery stream (the test runs four): message files into the Maildir argv[1] (written in
# tmp/, renamed into new/, as a delivery does) until the file argv[2]
# exists, a minute has passed or 20000 are written, owned by uid argv[3],
# gid argv[4].
STREAM = """
import os, sys, time
maildir, stop, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
end, n = time.monotonic() + 60, 0
while not os.path.exists(stop) and time.monotonic() < end and n < 20000:
    n += 1
    name = f"{int(time.time())}.M{n}P{os.getpid()}.stream,S=20"
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(b"Subject: s\\r\\n\\r\\nbody\\r\\n")
    os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(maildir, "new", name))
"""
SELECTED_AND_PERSONAL = ("NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
                         "(PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))")


class ImapdNotify(ImapTestCase):
    USER = "notifyu"
    counter = 0

    def setUp(self):
        ImapdNotify.counter += 1
        self.box = f"Nbox{ImapdNotify.counter}"

    def msg(self, subject="n"):
        return f"Subject: {subject}\r\n\r\nbody\r\n"

    def heard(self, c, pattern, timeout=WITHIN):
        """The unsolicited responses up to the first matching pattern."""
        rx = re.compile(pattern, re.I)
        return c.read_until(lambda r: rx.search(r) is not None, timeout=timeout)

    def quiet(self, c, seconds=2):
        got = c.untagged(seconds)
        self.assertEqual(got, [], "nothing was asked for")

    def two(self):
        a, b = self.login(), self.login()
        a.expect_ok(f"CREATE {self.box}")
        return a, b

    def test_capability_lists_notify(self):
        c = self.login()
        self.assertIn(" NOTIFY", c.expect_ok("CAPABILITY")[0])

    def test_selected_folder_events_come_unasked(self):
        a, b = self.two()
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg("first"))
        a.expect_ok(f"SELECT {self.box}")
        a.expect_ok(SELECTED_AND_PERSONAL)
        # a new message: EXISTS, then the FETCH MessageNew asked for
        b.expect_ok(f"APPEND {self.box} (\\Draft) {{}}", self.msg("second"))
        got = self.heard(a, r"^\* 2 FETCH")
        self.assertIn("* 2 EXISTS", got)
        self.assertRegex(got[-1], r"^\* 2 FETCH \(UID 2 FLAGS \([^)]*\\Draft")
        # a flag change: FETCH with UID and FLAGS (RFC 5465 5.1)
        b.expect_ok(f"SELECT {self.box}")
        b.expect_ok("UID STORE 1 +FLAGS (\\Flagged)")
        got = self.heard(a, r"^\* 1 FETCH")
        self.assertRegex(got[-1], r"UID 1 .*FLAGS \([^)]*\\Flagged")
        # an expunge: EXPUNGE at once under SELECTED
        b.expect_ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.expect_ok("EXPUNGE")
        got = self.heard(a, r"EXPUNGE")
        self.assertEqual(got[-1], "* 1 EXPUNGE")
        # a delivery written straight into new/ is news too
        self.put(self.msg("delivered"), "." + self.box)
        got = self.heard(a, r"^\* 2 FETCH")
        self.assertIn("* 2 EXISTS", got)
        # all while session 1 sent nothing; it still works after
        self.assertEqual(len(a.expect_ok("UID SEARCH ALL")), 1)

    def test_other_folders_names_and_subscriptions(self):
        a, b = self.two()
        a.expect_ok("SELECT INBOX")
        a.expect_ok(SELECTED_AND_PERSONAL)
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        got = self.heard(a, rf"^\* STATUS {self.box} ")
        self.assertRegex(got[-1], r"MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1")
        new, renamed = self.box + "x", self.box + "y"
        b.expect_ok(f"CREATE {new}")
        got = self.heard(a, rf'^\* LIST \([^)]*\) "\." {new}$')
        self.assertNotIn("NonExistent", got[-1])
        b.expect_ok(f"RENAME {new} {renamed}")
        got = self.heard(a, rf"^\* LIST .*{renamed}")
        self.assertRegex(got[-1], rf'^\* LIST \([^)]*\) "\." {renamed} \("OLDNAME" \({new}\)\)$')
        b.expect_ok(f"SUBSCRIBE {renamed}")
        got = self.heard(a, rf"^\* LIST .*{renamed}")
        self.assertRegex(got[-1], r"\\Subscribed")
        b.expect_ok(f"UNSUBSCRIBE {renamed}")
        got = self.heard(a, rf"^\* LIST .*{renamed}")
        self.assertNotRegex(got[-1], r"\\Subscribed")
        b.expect_ok(f"DELETE {renamed}")
        got = self.heard(a, rf"^\* LIST .*{renamed}")
        self.assertRegex(got[-1], r"\\NonExistent")
        # PERSONAL takes in a folder made after NOTIFY SET
        b.expect_ok(f"CREATE {renamed}")
        self.heard(a, rf"^\* LIST .*{renamed}")
        b.expect_ok(f"APPEND {renamed} {{}}", self.msg())
        self.heard(a, rf"^\* STATUS {renamed} \(MESSAGES 1 ")

    def test_notify_none_stops_them(self):
        a, b = self.two()
        a.expect_ok(f"SELECT {self.box}")
        a.expect_ok(SELECTED_AND_PERSONAL)
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        self.heard(a, r"EXISTS")
        a.expect_ok("NOTIFY NONE")
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        b.expect_ok(f"CREATE {self.box}.child")
        self.quiet(a, 3)
        # the selected folder's news still comes with the next command
        self.assertIn("* 2 EXISTS", a.expect_ok("NOOP"))

    def test_set_status_and_mailboxes_filter(self):
        a, b = self.two()
        b.expect_ok(f"APPEND {self.box} (\\Seen) {{}}", self.msg())
        a.expect_ok("ENABLE CONDSTORE")
        untagged = a.expect_ok(f"NOTIFY SET STATUS (MAILBOXES ({self.box} nosuchbox) (MessageNew MessageExpunge FlagChange))")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], rf"^\* STATUS {self.box} \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0 "
                                      r"HIGHESTMODSEQ \d+\)$")
        b.expect_ok(f"SELECT {self.box}")
        b.expect_ok("STORE 1 -FLAGS (\\Seen)")
        got = self.heard(a, rf"^\* STATUS {self.box} ")
        self.assertIn("UNSEEN 1", got[-1])
        # INBOX is not in the filter: nothing
        self.put(self.msg())
        self.quiet(a, 2)

    def test_selected_delayed_holds_expunges(self):
        a, b = self.two()
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        a.expect_ok(f"SELECT {self.box}")
        a.expect_ok("NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))")
        b.expect_ok(f"SELECT {self.box}")
        b.expect_ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.expect_ok("EXPUNGE")
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        got = self.heard(a, r"EXISTS")
        self.assertNotIn("* 1 EXPUNGE", got)
        self.assertIn("* 1 EXPUNGE", a.expect_ok("NOOP"))

    def test_bad_filters_and_events(self):
        c = self.login()
        supported = "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"
        for cmd, want in [
            ("NOTIFY SET (NOSUCHFILTER (MessageNew MessageExpunge))", "BAD"),
            ("NOTIFY SET (SELECTED (MessageNew))", "BAD"),  # MessageNew needs MessageExpunge (5)
            ("NOTIFY SET (PERSONAL (MessageExpunge))", "BAD"),
            ("NOTIFY SET (SELECTED (FlagChange))", "BAD"),  # FlagChange needs both (5)
            ("NOTIFY SET (SELECTED (MailboxName))", "BAD"),  # only message events (6.1)
            ("NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (SELECTED-DELAYED NONE)", "BAD"),
            ("NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))", "BAD"),  # fetch-att: SELECTED only
            ("NOTIFY SET (SELECTED (MessageNew (UID NOSUCHITEM) MessageExpunge))", "BAD"),
            ("NOTIFY SET (PERSONAL ())", "BAD"),
            ("NOTIFY SET", "BAD"),
            ("NOTIFY SOMETIMES", "BAD"),
            ("NOTIFY SET (PERSONAL (MessageNew MessageExpunge AnnotationChange))", "NO " + supported),
            ("NOTIFY SET (PERSONAL (MailboxMetadataChange))", "NO " + supported),
            ("NOTIFY SET (PERSONAL (ServerMetadataChange))", "NO " + supported),
            ("NOTIFY SET (PERSONAL (MailboxName BogusEvent))", "NO " + supported),
            ("NOTIFY SET (SELECTED NONE) (PERSONAL NONE)", "OK"),
            ("NOTIFY SET (SUBTREE (a b) (MailboxName)) (SUBSCRIBED (SubscriptionChange))", "OK"),
        ]:
            tagged, _ = c.cmd(cmd)
            self.assertTrue(tagged.split(" ", 1)[1].startswith(want), (cmd, tagged))
        names = " ".join(f"x{i}" for i in range(201))
        tagged, _ = c.cmd(f"NOTIFY SET (MAILBOXES ({names}) (MessageNew MessageExpunge))")
        self.assertIn("NO [NOTIFICATIONOVERFLOW]", tagged)
        # a refused NOTIFY SET leaves the session working
        c.expect_ok("NOOP")

    def test_idle_after_notify_tells_other_folders(self):
        a, b = self.two()
        a.expect_ok("SELECT INBOX")
        a.expect_ok(f"NOTIFY SET (MAILBOXES {self.box} (MessageNew MessageExpunge))")
        a.send("i IDLE\r\n")
        self.heard(a, r"^\+")
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        self.heard(a, rf"^\* STATUS {self.box} \(MESSAGES 1 ")
        # the selected folder is told of as IDLE always tells it
        self.put(self.msg())
        self.heard(a, r"^\* \d+ EXISTS")
        a.send("DONE\r\n")
        self.assertTrue(is_ok(self.heard(a, r"^i ")[-1]))

    def test_imaplib_sees_what_notify_sent(self):
        imaplib.Commands.setdefault("NOTIFY", ("AUTH", "SELECTED"))
        a = imaplib.IMAP4("127.0.0.1", self.server.port)
        self.addCleanup(a.logout)
        a.login(self.user.name, self.PASSWORD)
        self.assertIn(b"NOTIFY", a.capability()[1][0].split())
        a.create(self.box)
        a.select(self.box)
        typ, _ = a._simple_command("NOTIFY", "SET", "(SELECTED (MessageNew (UID) MessageExpunge))",
                                   "(PERSONAL (MessageNew MessageExpunge MailboxName))")
        self.assertEqual(typ, "OK")
        b = self.login()
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        b.expect_ok(f"CREATE {self.box}.sub")
        # imaplib keeps what came unasked; each NOOP reads what is there.
        # Poll until all three have come, with a generous bound.
        seen = {}

        def arrived():
            a.noop()
            for kind in ("EXISTS", "FETCH", "LIST"):
                seen.setdefault(kind, []).extend(x for x in a.response(kind)[1] if x is not None)
            return (b"1" in seen["EXISTS"] and any(b"UID 1" in f for f in seen["FETCH"])
                    and any(f"{self.box}.sub".encode() in l for l in seen["LIST"]))

        deadline = time.monotonic() + 4 * WITHIN
        while not arrived() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(b"1", seen["EXISTS"])
        self.assertTrue(any(b"UID 1" in f for f in seen["FETCH"]), seen)
        self.assertTrue(any(f"{self.box}.sub".encode() in l for l in seen["LIST"]), seen)

    def test_deleted_and_recreated_folder_is_watched_again(self):
        a, b = self.two()
        a.expect_ok("SELECT INBOX")
        a.expect_ok(f"NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))")
        # The folder is removed and made anew on disk while session 1 is
        # inside a command (waiting for APPEND's literal), so it sees both
        # at once when it next waits: the same name, new directories.
        data = self.msg()
        a.send(f"x APPEND INBOX {{{len(data)}}}\r\n")
        a.read_until(lambda r: r.startswith("+"))
        shutil.rmtree(os.path.join(self.user.maildir, "." + self.box))
        self.make_folder(self.box)
        a.send(data + "\r\n")
        self.assertTrue(is_ok(a.read_until(lambda r: r.startswith("x "))[-1]))
        b.expect_ok(f"APPEND {self.box} {{}}", self.msg())
        self.heard(a, rf"^\* STATUS {self.box} \(MESSAGES 1 ")

    def test_names_bound_counts_every_group(self):
        c = self.login()
        half = " ".join(f"x{i}" for i in range(150))
        other = " ".join(f"y{i}" for i in range(150))
        tagged, _ = c.cmd(f"NOTIFY SET (MAILBOXES ({half}) (MessageNew MessageExpunge)) "
                          f"(SUBTREE ({other}) (MailboxName))")
        self.assertIn("NO [NOTIFICATIONOVERFLOW]", tagged)
        c.expect_ok(f"NOTIFY SET (MAILBOXES ({half}) (MessageNew MessageExpunge))")
        c.expect_ok("NOTIFY NONE")

    # -- IDLE ---------------------------------------------------------------

    def test_silent_idle_ends_at_the_session_deadline(self):
        self.inst.control("deadlineimapd", "4\n")
        self.addCleanup(self.inst.control, "deadlineimapd", "86400\n")
        c = self.login()
        c.expect_ok("SELECT INBOX")
        c.send("i IDLE\r\n")
        c.read_until(lambda r: r.startswith("+"))
        got = c.read_until(lambda r: r.startswith("* BYE"), timeout=30)
        self.assertTrue(got[-1].startswith("* BYE [UNAVAILABLE] session time limit"), got)

    def test_idle_goes_on_working_over_a_quiet_wait(self):
        c = self.login()
        c.expect_ok("SELECT INBOX")
        c.send("i IDLE\r\n")
        c.read_until(lambda r: r.startswith("+"))
        self.assertEqual(c.untagged(6), [])
        self.put("Subject: late\r\n\r\nx\r\n")
        c.read_until(lambda r: r.endswith(" EXISTS"), timeout=WITHIN)
        c.send("DONE\r\n")
        self.assertTrue(is_ok(c.read_until(lambda r: r.startswith("i "))[-1]))

    def test_idle_answers_done_during_a_stream_of_deliveries(self):
        c = self.login()
        c.expect_ok("SELECT INBOX")
        c.send("i IDLE\r\n")
        c.read_until(lambda r: r.startswith("+"))
        # Other processes deliver into the INBOX as fast as they can
        # until told to stop (or a minute has passed).
        stop = os.path.join(self.inst.tmp, f"stop-{self.box}")
        writers = [subprocess.Popen([sys.executable, "-c", STREAM, self.user.maildir, stop,
                                     str(self.user.uid), str(self.user.gid)]) for _ in range(4)]

        def end_writer():
            open(stop, "w").close()
            for w in writers:
                w.wait(timeout=70)

        def remove_stream():  # the later tests' INBOX stays small
            for sub in ("new", "cur"):
                d = os.path.join(self.user.maildir, sub)
                for name in os.listdir(d):
                    if ".stream," in name:
                        os.unlink(os.path.join(d, name))
        self.addCleanup(remove_stream)
        self.addCleanup(end_writer)
        # DONE once the INBOX is big enough that a sync takes a while
        # (more arrive during it than before it)
        big = re.compile(r"^\* (\d{4,}) EXISTS$")
        c.read_until(lambda r: big.match(r) is not None and int(big.match(r)[1]) >= 3000, timeout=60)
        c.send("DONE\r\n")
        got = c.read_until(lambda r: r.startswith("i "), timeout=20)
        self.assertTrue(is_ok(got[-1]), got[-3:])
        end_writer()
        self.assertEqual([w.returncode for w in writers], [0] * 4)
        self.assertTrue(is_ok(c.cmd("NOOP", timeout=60)[0]))

    def test_idle_goes_on_after_notify_overflows(self):
        c = self.login()
        c.expect_ok("SELECT INBOX")
        c.expect_ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))")
        c.send("i IDLE\r\n")
        c.read_until(lambda r: r.startswith("+"))
        made = []

        def remove():
            for d in made:
                shutil.rmtree(d, ignore_errors=True)
        self.addCleanup(remove)
        for i in range(210):
            made.append(self.make_folder(f"{self.box}over{i}"))
        self.heard(c, r"^\* OK \[NOTIFICATIONOVERFLOW\]", timeout=4 * WITHIN)
        # NOTIFY has ended; IDLE still tells of the selected folder
        self.put(self.msg())
        c.read_until(lambda r: r.endswith(" EXISTS"), timeout=WITHIN)
        c.send("DONE\r\n")
        self.assertTrue(is_ok(c.read_until(lambda r: r.startswith("i "))[-1]))

    def test_idle_sees_a_done_compress_already_inflated(self):
        c = self.login()
        c.compress()
        # One write that inflates to exactly what the server reads at once
        # (16 KiB) up to the end of "i IDLE", with DONE after it: DONE
        # waits in the inflater, not in the socket.
        noops = "a NOOP\r\n" * ((16384 - 8) // 8)
        c.send(noops + "i IDLE\r\n" + "DONE\r\n")
        got = c.read_until(lambda r: r.startswith("i "), timeout=20)
        self.assertTrue(is_ok(got[-1]), got[-3:])


if __name__ == "__main__":
    import unittest
    unittest.main()
