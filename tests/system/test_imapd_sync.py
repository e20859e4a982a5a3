"""imapd's selected state under concurrency: two sessions of one user on
one folder (real tcpserver, real imapd, raw sockets speaking IMAP so every
untagged response is seen), checked as imaptest checks a server: flag
changes never lost, a message expunged by one session answered as
Dovecot answers it in the other (RFC 2180), untagged EXPUNGE/EXISTS in
the right order, IDLE telling of a delivery within a fraction of a
second, and CONDSTORE/QRESYNC (RFC 7162) where advertised."""
import os
import re
import time
import unittest

from imap_raw import ImapTestCase, newest_mailbox_pid, status, wakeups


def flags_of(lines, seq):
    for l in lines:
        m = re.match(rf"\* {seq} FETCH \(.*FLAGS \(([^)]*)\)", l)
        if m:
            return set(m.group(1).split())
    return None


class ImapdSync(ImapTestCase):
    USER = "salice"
    counter = 0

    def setUp(self):
        ImapdSync.counter += 1
        self.box = f"Box{ImapdSync.counter}"

    def fill(self, c, n, flags=""):
        """A new folder with n messages appended (as imaptest does)."""
        c.expect_ok(f"CREATE {self.box}")
        for i in range(n):
            msg = f"Subject: m{i}\r\nMessage-ID: <{i}.{self.box}@x>\r\n\r\nbody {i}\r\n"
            c.expect_ok(f"APPEND {self.box} ({flags}) {{}}", msg)

    def cur_files(self):
        d = os.path.join(self.user.maildir, "." + self.box, "cur")
        return sorted(os.listdir(d))

    # -- defects ----------------------------------------------------------

    def test_two_sessions_never_lose_each_others_flags(self):
        a, b = self.login(), self.login()
        self.fill(a, 1, "\\Seen")
        a.expect_ok(f"SELECT {self.box}")
        b.expect_ok(f"SELECT {self.box}")
        a.expect_ok("STORE 1 +FLAGS (\\Answered)")
        b.expect_ok("STORE 1 -FLAGS (\\Seen)")  # b has not seen a's change yet
        a.expect_ok("CHECK")
        b.expect_ok("CHECK")
        for c in (a, b):
            got = flags_of(c.expect_ok("FETCH 1 FLAGS"), 1) - {"\\Recent"}
            self.assertEqual(got, {"\\Answered"}, got)
        files = self.cur_files()
        self.assertEqual(len(files), 1)
        self.assertTrue(files[0].endswith(":2,R"), files)

    def test_keywords_from_two_sessions_both_kept(self):
        a, b = self.login(), self.login()
        self.fill(a, 1)
        a.expect_ok(f"SELECT {self.box}")
        b.expect_ok(f"SELECT {self.box}")
        a.expect_ok("STORE 1 +FLAGS ($Work)")
        lines = b.expect_ok("STORE 1 +FLAGS (\\Flagged)")
        # b's answer tells of a's keyword too, after a FLAGS naming it
        self.assertEqual(flags_of(lines, 1) - {"\\Recent"}, {"$Work", "\\Flagged"}, lines)
        flags_at = [i for i, l in enumerate(lines) if l.startswith("* FLAGS")]
        self.assertTrue(flags_at and "$Work" in lines[flags_at[0]], lines)

    def test_fetch_and_store_of_a_message_expunged_elsewhere(self):
        a, b = self.login(), self.login()
        self.fill(a, 4)
        a.expect_ok(f"SELECT {self.box}")
        b.expect_ok(f"SELECT {self.box}")
        uids = {int(m.group(1)): int(m.group(2)) for l in b.expect_ok("FETCH 1:4 UID")
                for m in [re.match(r"\* (\d+) FETCH \(UID (\d+)\)", l)] if m}
        a.expect_ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(a.expect_ok("EXPUNGE"), ["* 2 EXPUNGE"])
        # FETCH (no UID) must not send EXPUNGE: b still counts 4 messages
        tagged, untagged = b.cmd("FETCH 1:4 (UID BODY.PEEK[TEXT])")
        self.assertFalse(any("EXPUNGE" in l for l in untagged), untagged)
        self.assertTrue(status(tagged).startswith("OK [EXPUNGEISSUED]"), tagged)
        seqs = [int(l.split()[1]) for l in untagged if " FETCH " in l]
        self.assertEqual([s for s in seqs if s != 2], [1, 3, 4], untagged)
        self.assertIn(f"* 3 FETCH (UID {uids[3]} BODY[TEXT]", "\n".join(untagged))
        # STORE on it: OK, as Dovecot, and the others still change
        tagged, untagged = b.cmd("STORE 1:4 +FLAGS (\\Flagged)")
        self.assertTrue(status(tagged).startswith("OK"), tagged)
        self.assertFalse(any("EXPUNGE" in l for l in untagged), untagged)
        for seq in (1, 3, 4):
            self.assertIn("\\Flagged", flags_of(untagged, seq), untagged)
        # the expunge is told at the next NOOP, once, then numbers shift
        self.assertIn("* 2 EXPUNGE", b.expect_ok("NOOP"))
        self.assertEqual([l for l in b.expect_ok("NOOP") if "EXPUNGE" in l], [])
        lines = b.expect_ok("FETCH 1:* UID")
        self.assertEqual(len(lines), 3, lines)

    def test_uid_fetch_of_expunged_uid_sends_expunge_first(self):
        a, b = self.login(), self.login()
        self.fill(a, 3)
        a.expect_ok(f"SELECT {self.box}")
        b.expect_ok(f"SELECT {self.box}")
        a.expect_ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.expect_ok("EXPUNGE")
        lines = b.expect_ok("UID FETCH 1:* FLAGS")
        # UID commands may tell of expunges (Dovecot does, after the
        # FETCHes); no FETCH names a number past the count at that moment
        self.assertIn("* 1 EXPUNGE", lines)
        count = 3
        for l in lines:
            if l.endswith(" EXPUNGE"):
                count -= 1
            elif " FETCH " in l:
                self.assertLessEqual(int(l.split()[1]), count, lines)

    def test_store_of_recent_is_refused(self):
        a = self.login()
        self.fill(a, 1)
        a.expect_ok(f"SELECT {self.box}")
        tagged, untagged = a.cmd("STORE 1 +FLAGS (\\Recent)")
        self.assertTrue(status(tagged).startswith("BAD"), (untagged, tagged))
        self.assertEqual(untagged, [])

    def test_move_to_same_folder_answers_in_order(self):
        a = self.login()
        self.fill(a, 1)
        a.expect_ok(f"SELECT {self.box}")
        lines = a.expect_ok(f"MOVE 1 {self.box}")
        kinds = [("COPYUID" if "COPYUID" in l else l.split()[2]) for l in lines]
        self.assertEqual(kinds, ["COPYUID", "EXPUNGE", "EXISTS", "RECENT"], lines)

    def test_idle_tells_of_a_delivery_quickly(self):
        a = self.login()
        self.fill(a, 1)
        a.expect_ok(f"SELECT {self.box}")
        pid = newest_mailbox_pid(self.inst)
        a.send("i IDLE\r\n")
        self.assertTrue(a.line().startswith("+"))
        # Told by inotify, not by a poll: the session holds an inotify
        # descriptor while it idles (a time bound would only measure
        # how busy the machine is).
        fds = os.listdir(f"/proc/{pid}/fd")
        kinds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds if os.path.exists(f"/proc/{pid}/fd/{fd}")}
        self.assertIn("anon_inode:inotify", kinds)
        self.put("Subject: q\n\nx\n", "." + self.box)
        self.assertEqual(a.line(), "* 2 EXISTS")
        a.send("DONE\r\n")
        a.finish("i")

    def test_idle_sleeps_until_something_happens(self):
        a = self.login()
        self.fill(a, 1)
        a.expect_ok(f"SELECT {self.box}")
        pid = newest_mailbox_pid(self.inst)
        a.send("i IDLE\r\n")
        self.assertTrue(a.line().startswith("+"))
        time.sleep(0.5)
        before = wakeups(pid)
        time.sleep(5)
        # a session that polls wakes every few seconds; one told by the
        # kernel (inotify) sleeps through a quiet folder
        self.assertLessEqual(wakeups(pid) - before, 1)
        a.send("DONE\r\n")
        a.finish("i")

    # -- CONDSTORE and QRESYNC (RFC 7162) -----------------------------------

    def modseqs(self, lines):
        return {int(m.group(1)): int(m.group(2)) for l in lines
                for m in [re.match(r"\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", l)] if m}

    def test_condstore_select_fetch_store(self):
        a, b = self.login(), self.login()
        self.assertIn("CONDSTORE", " ".join(a.expect_ok("CAPABILITY")))
        self.fill(a, 3)
        lines = a.expect_ok(f"SELECT {self.box} (CONDSTORE)")
        high = [int(m.group(1)) for l in lines for m in [re.search(r"\[HIGHESTMODSEQ (\d+)\]", l)] if m]
        self.assertEqual(len(high), 1, lines)
        self.assertTrue(any("[MAILBOXID (" in l for l in lines), lines)
        before = self.modseqs(a.expect_ok("FETCH 1:* (FLAGS MODSEQ)"))
        self.assertEqual(sorted(before), [1, 2, 3])
        self.assertLessEqual(max(before.values()), high[0])
        # a change gives a MODSEQ above every earlier one; CHANGEDSINCE finds it alone
        lines = a.expect_ok("STORE 2 +FLAGS (\\Flagged)")
        after = self.modseqs(lines)
        self.assertGreater(after[2], high[0], lines)
        self.assertEqual(sorted(self.modseqs(a.expect_ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {high[0]})"))), [2])
        # UNCHANGEDSINCE: a message changed since is left alone and named in MODIFIED
        b.expect_ok(f"SELECT {self.box}")
        tagged, untagged = b.cmd(f"STORE 1:3 (UNCHANGEDSINCE {high[0]}) +FLAGS.SILENT (\\Seen)")
        self.assertTrue(status(tagged).startswith("OK [MODIFIED 2]"), (untagged, tagged))
        self.assertEqual(sorted(self.modseqs(untagged)), [1, 3], untagged)  # .SILENT still tells MODSEQ
        lines = a.expect_ok("NOOP")  # a hears of b's changes with their MODSEQs
        self.assertEqual(sorted(self.modseqs(lines)), [1, 3], lines)
        got = flags_of(a.expect_ok("FETCH 2 FLAGS"), 2)
        self.assertNotIn("\\Seen", got)
        tagged, untagged = b.cmd("UID STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
        self.assertTrue(status(tagged).startswith("OK [MODIFIED 1]"), tagged)

    def test_enable_and_qresync(self):
        a, b = self.login(), self.login()
        self.fill(a, 4)
        tagged, untagged = a.cmd(f"SELECT {self.box} (QRESYNC (1 1))")
        self.assertTrue(status(tagged).startswith("BAD"), tagged)  # not enabled yet
        self.assertIn("* ENABLED QRESYNC", a.expect_ok("ENABLE QRESYNC"))
        self.assertEqual(a.expect_ok("ENABLE QRESYNC"), ["* ENABLED"])  # once is enough
        lines = a.expect_ok(f"SELECT {self.box}")
        validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(lines)).group(1))
        high = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
        uids = [int(re.search(r"UID (\d+)", l).group(1)) for l in a.expect_ok("FETCH 1:* UID")]
        a.expect_ok("LOGOUT")
        # while a is away, b changes one message and expunges another
        b.expect_ok(f"SELECT {self.box}")
        b.expect_ok("STORE 3 +FLAGS (\\Answered)")
        b.expect_ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.expect_ok("EXPUNGE")
        a = self.login()
        a.expect_ok("ENABLE QRESYNC")
        lines = a.expect_ok(f"SELECT {self.box} (QRESYNC ({validity} {high} {uids[0]}:{uids[-1]}))")
        self.assertIn(f"* VANISHED (EARLIER) {uids[1]}", lines)
        changed = [l for l in lines if " FETCH " in l]
        self.assertEqual(len(changed), 1, lines)
        self.assertIn(f"UID {uids[2]} ", changed[0])
        self.assertIn("\\Answered", changed[0])
        # UID FETCH ... (CHANGEDSINCE n VANISHED) says the same
        lines = a.expect_ok(f"UID FETCH 1:* FLAGS (CHANGEDSINCE {high} VANISHED)")
        self.assertEqual(lines[0], f"* VANISHED (EARLIER) {uids[1]}", lines)
        # an expunge by another session is told as VANISHED, not EXPUNGE
        b.expect_ok(f"STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.expect_ok("EXPUNGE")
        lines = a.expect_ok("NOOP")
        self.assertIn(f"* VANISHED {uids[0]}", lines)
        self.assertFalse(any(l.endswith("EXPUNGE") for l in lines), lines)
        # selecting another folder closes this one first
        self.assertIn("* OK [CLOSED] Previous mailbox closed", a.expect_ok("EXAMINE INBOX"))


if __name__ == "__main__":
    unittest.main()
