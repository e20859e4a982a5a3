"""imapd end to end: a real tcpserver running bin/imapd as root (the
simplest line, `tcpserver 0 143 imapd`), Python's imaplib and curl as
clients, a system user whose password is set with chpasswd, mail
delivered by the real local delivery while sessions are open."""
import imaplib
import os
import re
import subprocess
import threading
import time
import unittest

from imap_raw import ImapTestCase, cpu_seconds, newest_mailbox_pid


MESSAGE = ("From: Alice Example <alice@example.org>\n"
           "To: Bob <bob@example.org>, carol@example.org\n"
           "Subject: =?UTF-8?Q?caf=C3=A9?= meeting\n"
           "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
           "Message-ID: <m1@example.org>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=\"XX\"\n"
           "\n"
           "preamble\n"
           "--XX\n"
           "Content-Type: text/plain; charset=utf-8\n"
           "\n"
           "hello world\n"
           "second line\n"
           "--XX\n"
           "Content-Type: message/rfc822\n"
           "\n"
           "Subject: inner\n"
           "From: x@y.z\n"
           "\n"
           "inner body\n"
           "--XX--\n")


class Imapd(ImapTestCase):
    USER = "ialice"

    def client(self):
        return imaplib.IMAP4("127.0.0.1", self.server.port, timeout=20)

    def login(self):
        return self.imaplib_login(timeout=20)

    def folder(self, c, name):
        typ, data = c.select(name)
        self.assertEqual(typ, "OK", data)
        return int(data[0])

    def test_login_refused_and_root(self):
        c = self.client()
        self.assertIn(b"AUTH=PLAIN", c.welcome)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(self.user.name, "wrong")
        with self.assertRaises(imaplib.IMAP4.error):
            c.login("root", "whatever")
        c.logout()
        self.assertIn("login failed", self.server.log())

    def test_preauth_stage_is_not_root(self):
        c = self.client()
        time.sleep(0.3)
        uids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{d}/exe")
                with open(f"/proc/{d}/status") as f:
                    st = f.read()
            except OSError:
                continue
            if exe == os.path.join(self.inst.bin, "imapd"):
                uids.append(int(re.search(r"Uid:\s+(\d+)", st).group(1)))
        c.logout()
        self.assertIn(0, uids)  # the parent, which never reads the network
        self.assertTrue(any(u != 0 for u in uids), uids)

    def test_authenticate_plain(self):
        c = self.client()
        typ, _ = c.authenticate("PLAIN", lambda _: f"\0{self.user.name}\0alice-pw".encode())
        self.assertEqual(typ, "OK")
        typ, data = c.list()
        self.assertEqual(typ, "OK")
        names = b"\n".join(data)
        for special in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"):
            self.assertIn(special, names)
        c.logout()
        # the mailbox stage ran as alice
        st = os.stat(os.path.join(self.user.maildir, ".Sent"))
        self.assertEqual(st.st_uid, self.user.uid)

    def test_fetch_envelope_bodystructure_sections(self):
        self.put(MESSAGE)
        c = self.login()
        n = self.folder(c, "INBOX")
        typ, data = c.fetch(str(n), "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE INTERNALDATE)")
        self.assertEqual(typ, "OK")
        line = data[0] if isinstance(data[0], bytes) else data[0][0]
        self.assertIn(f"RFC822.SIZE {len(MESSAGE) + MESSAGE.count(chr(10))}".encode(), line)
        self.assertIn(b'(("Alice Example" NIL "alice" "example.org"))', line)
        self.assertIn(b'"mixed"', line)
        self.assertIn(b'("message" "rfc822"', line)
        typ, data = c.fetch(str(n), "(BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<0.4>)")
        self.assertEqual(data[0][1], b"hello world\r\nsecond line")
        self.assertEqual(data[1][1], b"Subject: inner\r\nFrom: x@y.z\r\n\r\n")
        self.assertEqual(data[2][1], b"Subject: =?UTF-8?Q?caf=C3=A9?= meeting\r\n\r\n")
        self.assertEqual(data[3][1], b"From")
        typ, data = c.fetch(str(n), "(FLAGS)")
        self.assertNotIn(b"\\Seen", data[0])
        typ, data = c.fetch(str(n), "(RFC822)")
        self.assertEqual(data[0][1], MESSAGE.replace("\n", "\r\n").encode())
        typ, data = c.fetch(str(n), "(FLAGS)")
        self.assertIn(b"\\Seen", data[0])
        # SEARCH, with an encoded word decoded and a charset
        typ, data = c.search("UTF-8", "SUBJECT", '"café"'.encode())
        self.assertIn(str(n).encode(), data[0].split())
        typ, data = c.search(None, "FROM", "alice", "SEEN", "SENTON", "1-Jan-2024")
        self.assertIn(str(n).encode(), data[0].split())
        typ, data = c.search(None, "NOT", "BODY", '"hello world"')
        self.assertNotIn(str(n).encode(), data[0].split())
        typ, data = c.uid("SEARCH", "OR", "LARGER", "100000", "TEXT", '"inner body"')
        self.assertTrue(data[0])
        c.logout()

    def test_store_copy_move_expunge_uidplus(self):
        for i in range(3):
            self.put(f"Subject: s{i}\n\nbody {i}\n")
        c = self.login()
        c.create("Work")
        n = self.folder(c, "INBOX")
        typ, data = c.store(f"{n-2}:{n}", "+FLAGS", "(\\Flagged work)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"work", data[0])
        typ, data = c._simple_command("UID", "COPY", "1:*", "Work")
        self.assertEqual(typ, "OK")
        self.assertIn(b"COPYUID", data[0])
        typ, data = c._simple_command("MOVE", f"{n}", "Work")
        self.assertEqual(typ, "OK")
        typ, data = c.status("Work", "(MESSAGES UIDNEXT)")
        self.assertIn(f"MESSAGES {n + 1}".encode(), data[0])
        c.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = c.expunge()
        self.assertIn(b"1", data)
        typ, data = c.append("Work", "(\\Seen)", imaplib.Time2Internaldate(time.time()), b"Subject: appended\r\n\r\nhi\r\n")
        self.assertIn(b"APPENDUID", data[0])
        self.folder(c, "Work")
        typ, data = c.search(None, "SUBJECT", "appended")
        self.assertTrue(data[0])
        typ, data = c.fetch(data[0].split()[-1], "(FLAGS BODY.PEEK[TEXT])")
        self.assertIn(b"\\Seen", data[0][0])
        self.assertEqual(data[0][1], b"hi\r\n")
        c.logout()
        files = os.listdir(os.path.join(self.user.maildir, ".Work", "cur"))
        self.assertTrue(any(f.endswith("a") or ",a" in f or "Fa" in f for f in files), files)

    def test_folders_rename_subscribe_utf7(self):
        c = self.login()
        self.assertEqual(c.create("Entw&APw-rfe")[0], "OK")
        self.assertEqual(c.create("Entw&APw-rfe.Sub")[0], "OK")
        self.assertEqual(c.create("Bad&Name")[0], "NO")
        self.assertEqual(c.rename("Entw&APw-rfe", "Drafts2")[0], "OK")
        self.assertTrue(os.path.isdir(os.path.join(self.user.maildir, ".Drafts2.Sub")))
        self.assertEqual(c.subscribe("Drafts2")[0], "OK")
        typ, data = c.lsub('""', "Dr*")
        self.assertIn(b'"." Drafts2', b"\n".join(data))
        self.assertEqual(c.delete("Drafts2")[0], "NO")  # has children
        self.assertEqual(c.delete("Drafts2.Sub")[0], "OK")
        self.assertEqual(c.delete("Drafts2")[0], "OK")
        self.assertEqual(c.delete("INBOX")[0], "NO")
        typ, data = c._simple_command("NAMESPACE")
        self.assertEqual(typ, "OK")
        # RENAME INBOX moves its messages and leaves it empty.
        self.put("Subject: inbox rename\n\nx\n")
        self.assertEqual(c.rename("INBOX", "Old"), ("OK", [b"RENAME completed"]))
        typ, data = c.status("Old", "(MESSAGES)")
        self.assertNotIn(b"MESSAGES 0", data[0])
        typ, data = c.status("INBOX", "(MESSAGES)")
        self.assertIn(b"MESSAGES 0", data[0])
        c.logout()

    def test_two_sessions_and_a_delivery(self):
        a, b = self.login(), self.login()
        n = self.folder(a, "INBOX")
        self.assertEqual(self.folder(b, "INBOX"), n)
        # a delivery through the real queue, racing the sessions
        done = []
        def deliver():
            for i in range(5):
                r = self.inst.inject([self.user.address], f"Subject: race {i}\n\nx\n")
                done.append(r.returncode)
        t = threading.Thread(target=deliver)
        t.start()
        for _ in range(10):
            a.noop()
            b.noop()
        t.join()
        self.assertEqual(done, [0] * 5)
        self.inst.wait_queue_empty()
        time.sleep(0.2)
        a.noop()
        b.noop()
        ta, da = a.select("INBOX")
        tb, db = b.select("INBOX")
        self.assertEqual(da, db)
        self.assertEqual(int(da[0]), n + 5)
        ua = a.fetch("1:*", "(UID)")[1]
        ub = b.fetch("1:*", "(UID)")[1]
        self.assertEqual(ua, ub)
        # a flag set in one shows up in the other on NOOP
        a.store(da[0], "+FLAGS", "(\\Answered)")
        typ, data = b.noop()
        self.assertTrue(any(b"\\Answered" in x for x in b.untagged_responses.get("FETCH", [])),
                        b.untagged_responses)
        a.logout()
        b.logout()

    def test_idle_sees_a_delivery(self):
        c = self.login()
        self.folder(c, "INBOX")
        tag = c._new_tag().decode()
        c.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(c.readline().startswith(b"+"))
        self.put("Subject: idle\n\nx\n")
        line = c.readline()
        self.assertRegex(line, rb"^\* \d+ EXISTS")
        c.send(b"DONE\r\n")
        while True:
            line = c.readline()
            if line.startswith(tag.encode()):
                break
        self.assertIn(b"OK", line)
        c.logout()

    def test_limits(self):
        c = self.login()
        c.send(b"a1 NOOP " + b"x" * 70000 + b"\r\n")
        self.assertIn(b"BAD", c.readline())
        c.send(b"a2 APPEND INBOX {999999999999}\r\n")
        self.assertIn(b"NO", c.readline())
        self.assertEqual(c.noop()[0], "OK")
        # A LIST pattern made of wildcards must not make the server search
        # without end (every name is tried against it).
        # CPU time of the session, not wall time: the machine may be busy.
        pid = newest_mailbox_pid(self.inst)
        spent = cpu_seconds(pid)
        typ, data = c.list('""', "*%" * 400 + "x")
        self.assertEqual(typ, "OK")
        self.assertLess(cpu_seconds(pid) - spent, 2)
        c.logout()

    def test_curl(self):
        self.put("Subject: for curl\n\ncurl body\n")
        out = subprocess.run(["curl", "-s", f"imap://127.0.0.1:{self.server.port}/INBOX",
                              "-u", f"{self.user.name}:alice-pw", "-X", "FETCH 1:* BODY.PEEK[TEXT]"],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"FETCH", out.stdout)
        typ = subprocess.run(["curl", "-s", f"imap://127.0.0.1:{self.server.port}/",
                              "-u", f"{self.user.name}:alice-pw"], capture_output=True, timeout=30)
        self.assertIn(b"INBOX", typ.stdout)


if __name__ == "__main__":
    unittest.main()
