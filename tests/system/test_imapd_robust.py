"""imapd against what the review of the IMAP work found: a FIFO planted as
a folder's state file must not hang the user's session; CONTEXT=SEARCH
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
import test_imapd_sync
from harness import IS_ROOT, Instance, TcpServer, remove_test_users


class Raw(test_imapd_sync.Raw):
    """test_imapd_sync's bare connection, logged in; cmd gives (status,
    untagged lines), and a literal goes as LITERAL+ so its bytes go as
    they are (imaplib would make every line end CRLF first)."""

    def __init__(self, port, user, password):
        super().__init__(port)
        assert self.cmd(f'LOGIN {user} "{password}"')[0] == "OK"

    def cmd(self, text, literal=None):
        if literal is None:
            untagged, tagged = super().cmd(text)
            return tagged.split(" ", 1)[0], untagged
        self.n += 1
        tag = f"t{self.n}"
        self.sock.sendall(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        untagged = []
        while not (line := self.line()).startswith(tag + " "):
            untagged.append(line)
        return line.split(" ", 2)[1], untagged


@unittest.skipUnless(IS_ROOT, "needs root: system users, tcpserver as root")
class ImapdRobust(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.user = inst.add_user("srobust")
        inst.set_password(cls.user, "robust-pw")
        inst.start()
        cls.server = TcpServer(inst, "imapd")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

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
        return Raw(self.server.port, self.user.name, "robust-pw")

    def folder(self, name):
        c = self.raw()
        self.assertEqual(c.cmd(f"CREATE {name}")[0], "OK")
        c.close()
        return os.path.join(self.user.maildir, "." + name)

    def test_fifo_state_files_neither_hang_nor_stop_the_session(self):
        d = self.folder("Fifos")
        self.deliver(".Fifos", 2)
        for name in ("dovecot-uidlist", "postern-state", "dovecot-keywords"):
            if os.path.lexists(os.path.join(d, name)):
                os.unlink(os.path.join(d, name))
            os.mkfifo(os.path.join(d, name), 0o600)
            os.chown(os.path.join(d, name), self.user.uid, self.user.gid)
        c = self.raw()  # a hang is a socket timeout (30 s): a failure
        typ, lines = c.cmd("SELECT Fifos")
        self.assertEqual(typ, "OK")
        self.assertIn("* 2 EXISTS", lines)
        self.assertEqual(c.cmd("STORE 1 +FLAGS ($Work)")[0], "OK")
        typ, lines = c.cmd("FETCH 1:2 (UID FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertIn("$Work", lines[0])
        c.close()
        for name in ("dovecot-uidlist", "postern-state", "dovecot-keywords"):
            self.assertTrue(stat.S_ISREG(os.lstat(os.path.join(d, name)).st_mode), name)
        self.assertIn("not a regular file", self.server.log())

    def test_context_updates_after_expunge_use_current_numbers(self):
        self.folder("Ctx")
        self.deliver(".Ctx", 5)
        a, b = self.raw(), self.raw()
        a.cmd("SELECT Ctx")
        b.cmd("SELECT Ctx")
        self.assertEqual(b.cmd("STORE 2,3,5 +FLAGS (\\Flagged)")[0], "OK")
        a.cmd("NOOP")
        typ, lines = a.cmd("SEARCH RETURN (UPDATE) FLAGGED")
        self.assertEqual(typ, "OK")
        result = set()
        for line in lines:
            m = re.match(r"\* ESEARCH \(TAG \"t\d+\"\) ALL (\S+)", line)
            if m:
                result = set(expand(m.group(1)))
        self.assertEqual(result, {2, 3, 5})
        # b expunges a matching message below the others and changes two
        self.assertEqual(b.cmd("STORE 2 +FLAGS (\\Deleted)")[0], "OK")
        self.assertEqual(b.cmd("EXPUNGE")[0], "OK")
        self.assertEqual(b.cmd("STORE 4 -FLAGS (\\Flagged)")[0], "OK")  # was 5
        self.assertEqual(b.cmd("STORE 3 +FLAGS (\\Flagged)")[0], "OK")  # was 4
        typ, lines = a.cmd("NOOP")
        self.assertEqual(typ, "OK")
        # the client's view of the result, updated in the order it is told
        for line in lines:
            if m := re.match(r"\* (\d+) EXPUNGE", line):
                n = int(m.group(1))
                result = {x - 1 if x > n else x for x in result if x != n}
            elif m := re.match(r"\* ESEARCH \(TAG \"t\d+\"\) (ADDTO|REMOVEFROM) \(0 (\S+)\)", line):
                nums = set(expand(m.group(2)))
                result = result | nums if m.group(1) == "ADDTO" else result - nums
        typ, lines = a.cmd("SEARCH FLAGGED")
        truth = {int(x) for x in lines[0].split()[2:]}
        self.assertEqual(truth, {2, 3})
        self.assertEqual(result, truth, lines)
        a.close()
        b.close()

    def qresync_select(self, c, args):
        self.assertEqual(c.cmd("ENABLE QRESYNC")[0], "OK")
        typ, lines = c.cmd(f"SELECT Qr (QRESYNC ({args}))")
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
        self.assertEqual(c.cmd("ENABLE QRESYNC")[0], "OK")
        typ, lines = c.cmd("SELECT Qr")
        validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(lines)).group(1))
        modseq = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
        self.assertEqual(c.cmd("UID STORE 2,4 +FLAGS (\\Deleted)")[0], "OK")
        self.assertEqual(c.cmd("EXPUNGE")[0], "OK")
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
        c.cmd("ENABLE QRESYNC")
        typ, lines = c.cmd("SELECT Qr")
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
    assert c.cmd(f"CREATE {folder}")[0] == "OK"
    for msg in APPENDS:
        typ, lines = c.cmd(f"APPEND {folder}", literal=msg)
        assert typ == "OK", lines
    assert c.cmd(f"SELECT {folder}")[0] == "OK"
    typ, lines = c.cmd("FETCH 1:* (RFC822.SIZE BODY[])")
    assert typ == "OK", lines
    c.close()
    out = []
    for line in lines:
        size = int(re.search(r"RFC822\.SIZE (\d+)", line).group(1))
        m = re.search(r"BODY\[\] \{(\d+)\}\r\n", line)
        out.append((size, line[m.end():m.end() + int(m.group(1))].encode("latin-1")))
    return out


@unittest.skipUnless(IS_ROOT, "needs root: system users, tcpserver as root")
@unittest.skipUnless(dovecot_peer.available(), "needs dovecot-imapd (tools/deps)")
class AppendLineEnds(unittest.TestCase):
    """An APPENDed message reads back as Dovecot gives it back, and its
    RFC822.SIZE is the length of the BODY[] FETCH returns."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.user = inst.add_user("slfuser")
        inst.set_password(cls.user, "lf-pw")
        inst.start()
        cls.server = TcpServer(inst, "imapd")
        cls.dovecot = dovecot_peer.DovecotPeer([cls.user], password="lf-pw", index="memory", tmp=inst.tmp)
        cls.dovecot.start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

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
