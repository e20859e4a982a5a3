"""imapd's selected state under concurrency: two sessions of one user on
one folder (real tcpserver, real imapd, raw sockets speaking IMAP so every
untagged response is seen), checked as imaptest checks a server: flag
changes never lost, a message expunged by one session answered as
Dovecot answers it in the other (RFC 2180), untagged EXPUNGE/EXISTS in
the right order, IDLE telling of a delivery within a fraction of a
second, and CONDSTORE/QRESYNC (RFC 7162) where advertised."""
import os
import re
import socket
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, TcpServer, remove_test_users


class Raw:
    """One IMAP connection: send a command, read to its tagged answer,
    hand back the untagged lines (literals folded in) and the tagged line."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; had " + repr(self.buf))
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        # a literal: its bytes and the rest of the line belong to it
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            size = int(m.group(1))
            while len(self.buf) < size:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("connection closed in a literal")
                self.buf += data
            line += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]
            line += self.line().encode("latin-1")
        return line.decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode("latin-1") + b"\r\n")

    def cmd(self, text):
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {text}")
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, untagged, tagged)
        return untagged

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


def newest_mailbox_pid(inst):
    """The imapd-mailbox process started last (the session just opened)."""
    exe = os.path.join(inst.bin, "imapd-mailbox")
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/exe") == exe:
                    with open(f"/proc/{d}/stat") as f:
                        found.append((int(f.read().rsplit(")", 1)[1].split()[19]), int(d)))
            except OSError:
                pass
    return max(found)[1]


def wakeups(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", f.read()).group(1))


def flags_of(lines, seq):
    for l in lines:
        m = re.match(rf"\* {seq} FETCH \(.*FLAGS \(([^)]*)\)", l)
        if m:
            return set(m.group(1).split())
    return None


@unittest.skipUnless(IS_ROOT, "needs root: system users, tcpserver as root")
class ImapdSync(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("salice")
        subprocess.run(["chpasswd"], input=f"{cls.alice.name}:alice-pw\n".encode(), check=True)
        inst.start()
        cls.server = TcpServer(inst, "imapd")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

    counter = 0

    def setUp(self):
        ImapdSync.counter += 1
        self.box = f"Box{ImapdSync.counter}"
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()

    def login(self):
        c = Raw(self.server.port)
        c.ok(f"LOGIN {self.alice.name} alice-pw")
        self.conns.append(c)
        return c

    def fill(self, c, n, flags=""):
        """A new folder with n messages appended (as imaptest does)."""
        c.ok(f"CREATE {self.box}")
        for i in range(n):
            msg = f"Subject: m{i}\r\nMessage-ID: <{i}.{self.box}@x>\r\n\r\nbody {i}\r\n"
            c.send(f"a APPEND {self.box} ({flags}) {{{len(msg)}}}")
            assert c.line().startswith("+")
            c.send(msg)  # the literal, then the end of the command line
            while not c.line().startswith("a "):
                pass

    def cur_files(self):
        d = os.path.join(self.alice.maildir, "." + self.box, "cur")
        return sorted(os.listdir(d))

    # -- defects ----------------------------------------------------------

    def test_two_sessions_never_lose_each_others_flags(self):
        a, b = self.login(), self.login()
        self.fill(a, 1, "\\Seen")
        a.ok(f"SELECT {self.box}")
        b.ok(f"SELECT {self.box}")
        a.ok("STORE 1 +FLAGS (\\Answered)")
        b.ok("STORE 1 -FLAGS (\\Seen)")  # b has not seen a's change yet
        a.ok("CHECK")
        b.ok("CHECK")
        for c in (a, b):
            got = flags_of(c.ok("FETCH 1 FLAGS"), 1) - {"\\Recent"}
            self.assertEqual(got, {"\\Answered"}, got)
        files = self.cur_files()
        self.assertEqual(len(files), 1)
        self.assertTrue(files[0].endswith(":2,R"), files)

    def test_keywords_from_two_sessions_both_kept(self):
        a, b = self.login(), self.login()
        self.fill(a, 1)
        a.ok(f"SELECT {self.box}")
        b.ok(f"SELECT {self.box}")
        a.ok("STORE 1 +FLAGS ($Work)")
        lines = b.ok("STORE 1 +FLAGS (\\Flagged)")
        # b's answer tells of a's keyword too, after a FLAGS naming it
        self.assertEqual(flags_of(lines, 1) - {"\\Recent"}, {"$Work", "\\Flagged"}, lines)
        flags_at = [i for i, l in enumerate(lines) if l.startswith("* FLAGS")]
        self.assertTrue(flags_at and "$Work" in lines[flags_at[0]], lines)

    def test_fetch_and_store_of_a_message_expunged_elsewhere(self):
        a, b = self.login(), self.login()
        self.fill(a, 4)
        a.ok(f"SELECT {self.box}")
        b.ok(f"SELECT {self.box}")
        uids = {int(m.group(1)): int(m.group(2)) for l in b.ok("FETCH 1:4 UID")
                for m in [re.match(r"\* (\d+) FETCH \(UID (\d+)\)", l)] if m}
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        self.assertEqual(a.ok("EXPUNGE"), ["* 2 EXPUNGE"])
        # FETCH (no UID) must not send EXPUNGE: b still counts 4 messages
        untagged, tagged = b.cmd("FETCH 1:4 (UID BODY.PEEK[TEXT])")
        self.assertFalse(any("EXPUNGE" in l for l in untagged), untagged)
        self.assertTrue(tagged.startswith("OK [EXPUNGEISSUED]"), tagged)
        seqs = [int(l.split()[1]) for l in untagged if " FETCH " in l]
        self.assertEqual([s for s in seqs if s != 2], [1, 3, 4], untagged)
        self.assertIn(f"* 3 FETCH (UID {uids[3]} BODY[TEXT]", "\n".join(untagged))
        # STORE on it: OK, as Dovecot, and the others still change
        untagged, tagged = b.cmd("STORE 1:4 +FLAGS (\\Flagged)")
        self.assertTrue(tagged.startswith("OK"), tagged)
        self.assertFalse(any("EXPUNGE" in l for l in untagged), untagged)
        for seq in (1, 3, 4):
            self.assertIn("\\Flagged", flags_of(untagged, seq), untagged)
        # the expunge is told at the next NOOP, once, then numbers shift
        self.assertIn("* 2 EXPUNGE", b.ok("NOOP"))
        self.assertEqual([l for l in b.ok("NOOP") if "EXPUNGE" in l], [])
        lines = b.ok("FETCH 1:* UID")
        self.assertEqual(len(lines), 3, lines)

    def test_uid_fetch_of_expunged_uid_sends_expunge_first(self):
        a, b = self.login(), self.login()
        self.fill(a, 3)
        a.ok(f"SELECT {self.box}")
        b.ok(f"SELECT {self.box}")
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        lines = b.ok("UID FETCH 1:* FLAGS")
        # UID commands may tell of expunges (Dovecot does, after the
        # FETCHes); no FETCH names a number past the count at that moment
        self.assertIn("* 1 EXPUNGE", lines)
        count = 3
        for l in lines:
            if l.endswith(" EXPUNGE"):
                count -= 1
            elif " FETCH " in l:
                self.assertLessEqual(int(l.split()[1]), count, lines)

    def test_move_to_same_folder_answers_in_order(self):
        a = self.login()
        self.fill(a, 1)
        a.ok(f"SELECT {self.box}")
        lines = a.ok(f"MOVE 1 {self.box}")
        kinds = [("COPYUID" if "COPYUID" in l else l.split()[2]) for l in lines]
        self.assertEqual(kinds, ["COPYUID", "EXPUNGE", "EXISTS", "RECENT"], lines)

    def test_idle_tells_of_a_delivery_quickly(self):
        a = self.login()
        self.fill(a, 1)
        a.ok(f"SELECT {self.box}")
        a.send("i IDLE")
        self.assertTrue(a.line().startswith("+"))
        time.sleep(2.5)  # past any poll that started with IDLE
        name = f"{int(time.time())}.Mquick.test,S=9"
        path = os.path.join(self.alice.maildir, "." + self.box, "new", name)
        start = time.monotonic()
        with open(path, "w") as f:
            f.write("Subject: q\n\nx\n")
        os.chown(path, self.alice.uid, self.alice.gid)
        self.assertEqual(a.line(), "* 2 EXISTS")
        took = time.monotonic() - start
        a.send("DONE")
        while not a.line().startswith("i "):
            pass
        # inotify answers at once; bounded generously for a loaded machine
        self.assertLess(took, 1.5)

    def test_idle_sleeps_until_something_happens(self):
        a = self.login()
        self.fill(a, 1)
        a.ok(f"SELECT {self.box}")
        pid = newest_mailbox_pid(self.inst)
        a.send("i IDLE")
        self.assertTrue(a.line().startswith("+"))
        time.sleep(0.5)
        before = wakeups(pid)
        time.sleep(5)
        # a session that polls wakes every few seconds; one told by the
        # kernel (inotify) sleeps through a quiet folder
        self.assertLessEqual(wakeups(pid) - before, 1)
        a.send("DONE")
        while not a.line().startswith("i "):
            pass


if __name__ == "__main__":
    unittest.main()
