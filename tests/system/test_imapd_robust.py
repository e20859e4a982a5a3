"""imapd against what the review of the IMAP work found: a FIFO planted as
a folder's state file must not hang the user's session (a non-regular
dovecot-uidlist fails the command and stays); CONTEXT=SEARCH
updates after an EXPUNGE use the numbers after it; QRESYNC after
postern-state was lost still names the messages expunged before; an
APPEND with bare LF line ends reads back as Dovecot gives it. Real
tcpserver, real imapd, raw sockets and Python's imaplib."""
import os
import re
import stat
import time
import unittest

import dovecot_peer
from imap_raw import Client, ImapTestCase, as_bytes


class Raw(Client):
    """imap_raw's client, logged in; run() gives (status word, untagged
    responses), and a literal goes as LITERAL+ so its bytes go as they
    are (imaplib would make every line end CRLF first)."""

    def __init__(self, port, user, password):
        super().__init__(port)
        self.login(user, password)

    def run(self, text, literal=None):
        if literal is None:
            tagged, untagged = self.cmd(text)
        else:
            tagged, untagged = self.cmd(text + " {}", literal, plus=True)
        return tagged.split(" ", 2)[1], untagged

    def close(self):
        """LOGOUT once, then the socket closed (a second call does nothing)."""
        if self.sock.fileno() >= 0:
            try:
                self.cmd("LOGOUT", timeout=5)
            except (OSError, EOFError):
                pass
        super().close()


class ImapdRobust(ImapTestCase):
    USER = "srobust"
    PASSWORD = "robust-pw"

    counter = 0

    def deliver(self, folder, count):
        for _ in range(count):
            ImapdRobust.counter += 1
            name = f"{int(time.time())}.M{ImapdRobust.counter}P{os.getpid()}.test"
            path = os.path.join(self.user.maildir, folder, "new", name)
            with open(path, "w") as f:
                f.write(f"Subject: m{ImapdRobust.counter}\n\nbody\n")
            os.chown(path, self.user.uid, self.user.gid)

    def raw(self):
        c = Raw(self.server.port, self.user.name, self.PASSWORD)
        self.addCleanup(c.close)
        return c

    def folder(self, name):
        c = self.raw()
        self.assertEqual(c.run(f"CREATE {name}")[0], "OK")
        c.close()
        return os.path.join(self.user.maildir, "." + name)

    def plant_fifo(self, d, name):
        if os.path.lexists(os.path.join(d, name)):
            os.unlink(os.path.join(d, name))
        os.mkfifo(os.path.join(d, name), 0o600)
        os.chown(os.path.join(d, name), self.user.uid, self.user.gid)

    def test_fifo_state_files_neither_hang_nor_stop_the_session(self):
        d = self.folder("Fifos")
        self.deliver(".Fifos", 2)
        for name in ("postern-state", "dovecot-keywords"):
            self.plant_fifo(d, name)
        c = self.raw()  # a hang is a socket timeout (30 s): a failure
        typ, lines = c.run("SELECT Fifos")
        self.assertEqual(typ, "OK")
        self.assertIn("* 2 EXISTS", lines)
        self.assertEqual(c.run("STORE 1 +FLAGS ($Work)")[0], "OK")
        typ, lines = c.run("FETCH 1:2 (UID FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertIn("$Work", lines[0])
        c.close()
        for name in ("dovecot-uidlist", "postern-state", "dovecot-keywords"):
            self.assertTrue(stat.S_ISREG(os.lstat(os.path.join(d, name)).st_mode), name)
        self.assertIn("not a regular file", self.server.log())

    def test_odd_uidlist_fails_the_command_and_is_left_alone(self):
        """A FIFO or symlink as dovecot-uidlist is no missing file: a new
        UIDVALIDITY would invalidate every client's UIDs. The command
        answers NO, the log says why, the file stays, the session goes on."""
        d = self.folder("OddUids")
        self.deliver(".OddUids", 2)
        c = self.raw()
        self.assertEqual(c.run("SELECT OddUids")[0], "OK")
        c.close()
        uidlist = os.path.join(d, "dovecot-uidlist")
        with open(uidlist, "rb") as f:
            kept = f.read()
        self.plant_fifo(d, "dovecot-uidlist")
        c = self.raw()  # a hang is a socket timeout (30 s): a failure
        typ, lines = c.run("SELECT OddUids")
        self.assertEqual(typ, "NO", lines)
        self.assertEqual(c.run("NOOP")[0], "OK")
        self.assertTrue(stat.S_ISFIFO(os.lstat(uidlist).st_mode))
        self.assertIn(f"{uidlist}: not a regular file", self.server.log())
        # A symlink to a copy of the real file: refused too, not followed.
        real = os.path.join(self.inst.tmp, "uidlist-copy")
        with open(real, "wb") as f:
            f.write(kept)
        os.unlink(uidlist)
        os.symlink(real, uidlist)
        self.assertEqual(c.run("EXAMINE OddUids")[0], "NO")
        self.assertEqual(c.run("NOOP")[0], "OK")
        self.assertTrue(os.path.islink(uidlist))
        with open(real, "rb") as f:
            self.assertEqual(f.read(), kept)
        c.close()

    def test_context_updates_after_expunge_use_current_numbers(self):
        self.folder("Ctx")
        self.deliver(".Ctx", 5)
        a, b = self.raw(), self.raw()
        a.run("SELECT Ctx")
        b.run("SELECT Ctx")
        self.assertEqual(b.run("STORE 2,3,5 +FLAGS (\\Flagged)")[0], "OK")
        a.run("NOOP")
        typ, lines = a.run("SEARCH RETURN (UPDATE) FLAGGED")
        self.assertEqual(typ, "OK")
        result = set()
        for line in lines:
            m = re.match(r"\* ESEARCH \(TAG \"t\d+\"\) ALL (\S+)", line)
            if m:
                result = set(expand(m.group(1)))
        self.assertEqual(result, {2, 3, 5})
        # b expunges a matching message below the others and changes two
        self.assertEqual(b.run("STORE 2 +FLAGS (\\Deleted)")[0], "OK")
        self.assertEqual(b.run("EXPUNGE")[0], "OK")
        self.assertEqual(b.run("STORE 4 -FLAGS (\\Flagged)")[0], "OK")  # was 5
        self.assertEqual(b.run("STORE 3 +FLAGS (\\Flagged)")[0], "OK")  # was 4
        typ, lines = a.run("NOOP")
        self.assertEqual(typ, "OK")
        # the client's view of the result, updated in the order it is told
        for line in lines:
            if m := re.match(r"\* (\d+) EXPUNGE", line):
                n = int(m.group(1))
                result = {x - 1 if x > n else x for x in result if x != n}
            elif m := re.match(r"\* ESEARCH \(TAG \"t\d+\"\) (ADDTO|REMOVEFROM) \(0 (\S+)\)", line):
                nums = set(expand(m.group(2)))
                result = result | nums if m.group(1) == "ADDTO" else result - nums
        typ, lines = a.run("SEARCH FLAGGED")
        truth = {int(x) for x in lines[0].split()[2:]}
        self.assertEqual(truth, {2, 3})
        self.assertEqual(result, truth, lines)
        a.close()
        b.close()

    def qresync_select(self, c, args):
        self.assertEqual(c.run("ENABLE QRESYNC")[0], "OK")
        typ, lines = c.run(f"SELECT Qr (QRESYNC ({args}))")
        self.assertEqual(typ, "OK")
        vanished = set()
        for line in lines:
            if m := re.match(r"\* VANISHED \(EARLIER\) (\S+)", line):
                vanished |= set(expand(m.group(1)))
        return vanished

    def test_qresync_after_state_lost_names_expunged_messages(self):
        d = self.folder("Qr")
        self.deliver(".Qr", 5)
        c = self.raw()
        self.assertEqual(c.run("ENABLE QRESYNC")[0], "OK")
        typ, lines = c.run("SELECT Qr")
        validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(lines)).group(1))
        modseq = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
        self.assertEqual(c.run("UID STORE 2,4 +FLAGS (\\Deleted)")[0], "OK")
        self.assertEqual(c.run("EXPUNGE")[0], "OK")
        c.close()
        os.unlink(os.path.join(d, "postern-state"))
        c = self.raw()
        self.assertEqual(self.qresync_select(c, f"{validity} {modseq} 1:5"), {2, 4})
        c.close()
        c = self.raw()  # without known UIDs: every UID below UIDNEXT
        self.assertEqual(self.qresync_select(c, f"{validity} {modseq}"), {2, 4})
        c.close()
        # the answer is complete from here on: nothing more went away
        c = self.raw()
        c.run("ENABLE QRESYNC")
        typ, lines = c.run("SELECT Qr")
        now = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
        c.close()
        c = self.raw()
        self.assertEqual(self.qresync_select(c, f"{validity} {now} 1:5"), set())
        c.close()


# Line ends as clients send them: bare LF, mixed, a lone CR, CR CR LF, no
# final line end.
APPENDS = [
    b"Subject: lf\nFrom: a@example.org\n\nline1\nline2\n",
    b"Subject: mixed\r\n\r\nmixed\nline\r\nend\rcr\n",
    b"Subject: crcrlf\n\nx\r\r\ny\n",
    b"Subject: open\n\nno final line end",
]


def appended_back(port, user, password, folder):
    """(RFC822.SIZE, BODY[]) of every message APPENDS put in folder, sent
    as they are (imaplib would make every line end CRLF first)."""
    c = Raw(port, user, password)
    assert c.run(f"CREATE {folder}")[0] == "OK"
    for msg in APPENDS:
        typ, lines = c.run(f"APPEND {folder}", literal=msg)
        assert typ == "OK", lines
    assert c.run(f"SELECT {folder}")[0] == "OK"
    typ, lines = c.run("FETCH 1:* (RFC822.SIZE BODY[])")
    assert typ == "OK", lines
    c.close()
    out = []
    for line in map(as_bytes, lines):
        size = int(re.search(rb"RFC822\.SIZE (\d+)", line).group(1))
        m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", line)
        out.append((size, line[m.end():m.end() + int(m.group(1))]))
    return out


@unittest.skipUnless(dovecot_peer.available(), "needs dovecot-imapd (tools/deps)")
class AppendLineEnds(ImapTestCase):
    """An APPENDed message reads back as Dovecot gives it back, and its
    RFC822.SIZE is the length of the BODY[] FETCH returns."""

    USER = "slfuser"
    PASSWORD = "lf-pw"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # tearDownClass cleans cls.dovecot up
        cls.dovecot = dovecot_peer.DovecotPeer([cls.user], password="lf-pw", index="memory", tmp=cls.inst.tmp)

    def test_append_line_ends_as_dovecot(self):
        theirs = appended_back(self.dovecot.port, self.user.name, "lf-pw", "DoveLF")
        ours = appended_back(self.server.port, self.user.name, "lf-pw", "PostLF")
        self.assertEqual(len(ours), len(APPENDS))
        for (size, body), (dsize, dbody), sent in zip(ours, theirs, APPENDS):
            self.assertEqual(size, len(body), sent)
            self.assertEqual(body, dbody, sent)
            self.assertEqual(size, dsize, sent)


def expand(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


if __name__ == "__main__":
    unittest.main()
