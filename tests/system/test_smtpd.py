"""smtpd under a real tcpserver: real clients (smtplib, swaks, curl), the
relay matrix, recipient validation, BDAT, SMTPUTF8, sendmail -bs, and
delivery into the users' Maildirs."""
import os
import pwd
import re
import smtplib
import subprocess
import time
import unittest

from harness import Instance, TcpServer, maildir_files, read_message, remove_test_users, make_env, wait_for
from smtp_helpers import Raw, SmtpServer, greet, tcprules, wait_log


def newest(inst, maildir, before, subject):
    """The message with this Subject among those that arrived after before."""
    def find():
        for f in maildir_files(maildir):
            if f not in before:
                m = read_message(f)
                if m["Subject"] == subject:
                    return (f, m)
        return None
    return wait_for(find, 20, f"'{subject}' in {maildir}\n" + inst.log()[-2000:])


class Smtpd(unittest.TestCase):
    MULTI = None

    @classmethod
    def setUpClass(cls):
        inst = cls.inst = Instance(multi=cls.MULTI)
        try:
            cls.alice = inst.add_user("alice")
            cls.bob = inst.add_user("bob")
            cls.alice.write(".qmail-list", "./Maildir/\n")
            cls.bob.write(".qmail-default", "./Maildir/\n")
            inst.control("badmailfrom", "spammer@bad.example\n@worse.example")
            inst.control("databytes", "200000")
            cls.newrcpt()
            inst.start()
            cls.plain = SmtpServer(inst)
            rules = tcprules(os.path.join(inst.tmp, "rules.cdb"), '127.0.0.1:allow,RELAYCLIENT=""\n:allow\n')
            cls.relay = SmtpServer(inst, rules=rules)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in ("plain", "relay"):
            if hasattr(cls, s):
                getattr(cls, s).stop()
        cls.inst.cleanup()
        remove_test_users()

    @classmethod
    def newrcpt(cls):
        p = subprocess.run([os.path.join(cls.inst.bin, "newrcpt")], capture_output=True, env=make_env())
        assert p.returncode == 0, p.stderr

    def smtp(self, server=None):
        return smtplib.SMTP("127.0.0.1", (server or self.plain).port, local_hostname="client.example", timeout=20)

    def test_ehlo_advertises_extensions(self):
        with self.smtp() as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking"):
                self.assertTrue(s.has_extn(ext), ext)
            self.assertEqual(s.esmtp_features["size"], "200000")
            self.assertEqual(s.verify("alice")[0], 252)
            self.assertEqual(s.help()[:3], b"2.0")
            self.assertEqual(s.noop()[0], 250)
            self.assertEqual(s.docmd("EXPN", "list")[0], 502)

    def test_smtplib_delivers_with_received_line_and_id(self):
        before = set(maildir_files(self.alice.maildir))
        with self.smtp() as s:
            s.ehlo()
            s.mail("sender@example.net")
            s.rcpt(self.alice.address)
            code, text = s.data(b"Subject: over smtp\r\n\r\n.leading dot\r\nline two\r\n")
        self.assertEqual(code, 250)
        qid = re.search(rb"ok ([0-9a-f]{16})", text).group(1).decode()
        path, msg = newest(self.inst, self.alice.maildir, before, "over smtp")
        self.assertEqual(msg["Return-Path"], "<sender@example.net>")
        self.assertIn(".leading dot\nline two\n", msg.get_content())
        received = " ".join(str(r) for r in msg.get_all("Received"))
        self.assertIn(f"from client.example ([127.0.0.1])", received)
        self.assertIn(f"by {self.inst.me} (postern smtpd) with ESMTP id {qid}", received)
        with open(path, "rb") as f:
            self.assertNotIn(b"\r", f.read())
        # The reply also names the queue's id, the one smtpd and send log.
        msg_id = re.search(rb" msg ([0-9A-Za-z]+)$", text).group(1).decode()
        wait_log(self.plain, f"msg={msg_id} accepted client=127.0.0.1 helo=client.example from=<sender@example.net> "
                             f"size=")
        self.assertRegex(self.plain.log(), rf"msg={msg_id} accepted .* nrcpt=1 tls=none auth=- received-id={qid}\n")
        self.assertIn(f"msg={msg_id} new from=<sender@example.net> ", self.inst.log())

    def test_helo_gives_smtp_protocol(self):
        before = set(maildir_files(self.alice.maildir))
        with self.smtp() as s:
            s.helo("old.example")
            s.sendmail("a@example.net", [self.alice.address], b"Subject: helo\r\n\r\nx\r\n")
        _, msg = newest(self.inst, self.alice.maildir, before, "helo")
        self.assertIn("with SMTP id", " ".join(str(r) for r in msg.get_all("Received")))

    def test_pipelined_group_answered_in_order(self):
        before = set(maildir_files(self.bob.maildir))
        r = Raw(self.plain.port)
        self.assertEqual(r.reply()[0], 220)
        r.send("EHLO pipe.example\r\nMAIL FROM:<p@example.net>\r\nRCPT TO:<" + self.bob.address +
               ">\r\nRCPT TO:<nobody-here@" + self.inst.me + ">\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n")
        codes = [c for c, _ in r.replies(6)]
        self.assertEqual(codes, [250, 250, 250, 550, 553, 354])
        r.send("Subject: piped\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<" + self.bob.address +
               ">\r\nDATA\r\n")
        codes = [c for c, _ in r.replies(5)]
        self.assertEqual(codes, [250, 250, 250, 250, 354])
        r.send("Subject: second\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        self.assertEqual([c for c, _ in r.replies(2)], [250, 221])
        r.close()
        newest(self.inst, self.bob.maildir, before, "piped")
        newest(self.inst, self.bob.maildir, before, "second")

    def test_swaks_with_pipelining(self):
        before = set(maildir_files(self.alice.maildir))
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.plain.port}", "--from", "sw@example.net",
                            "--to", self.alice.address, "--pipeline", "--header", "Subject: from swaks",
                            "--body", "swaks body"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        newest(self.inst, self.alice.maildir, before, "from swaks")

    def test_curl(self):
        before = set(maildir_files(self.alice.maildir))
        path = os.path.join(self.inst.tmp, "curl-msg")
        with open(path, "wb") as f:
            f.write(b"Subject: from curl\r\n\r\ncurl body\r\n.dot line\r\n")
        p = subprocess.run(["curl", "-sS", f"smtp://127.0.0.1:{self.plain.port}", "--mail-from", "c@example.net",
                            "--mail-rcpt", self.alice.address, "-T", path], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        _, msg = newest(self.inst, self.alice.maildir, before, "from curl")
        self.assertIn(".dot line", msg.get_content())

    def test_relay_matrix(self):
        local, remote = self.alice.address, "someone@remote.example"
        cases = [(self.plain, local, 250), (self.plain, remote, 553), (self.plain, "postmaster@localhost", 250),
                 (self.relay, local, 250), (self.relay, remote, 250)]
        for server, rcpt, expected in cases:
            with self.smtp(server) as s:
                s.ehlo()
                s.mail("m@example.net")
                code, text = s.rcpt(rcpt)
                self.assertEqual(code, expected, f"{rcpt} via {'relay' if server is self.relay else 'plain'}: {text}")
        # rcpthosts with a .suffix entry lets subdomains in.
        self.inst.control("rcpthosts", f"{self.inst.me}\nlocalhost\n.hosted.example")
        try:
            with self.smtp() as s:
                s.ehlo()
                s.mail("m@example.net")
                self.assertEqual(s.rcpt("u@mx.hosted.example")[0], 250)
                self.assertEqual(s.rcpt("u@hosted.example.evil")[0], 553)
        finally:
            self.inst.control("rcpthosts", f"{self.inst.me}\nlocalhost")
        wait_log(self.plain, "reject client=127.0.0.1 helo=")
        self.assertRegex(self.plain.log(), r"reject client=127\.0\.0\.1 helo=\S+ from=<\S*> to=<someone@remote\.example> "
                                           r"code=553 dsn=5\.7\.1 reason=\"relaying denied")

    def test_relayed_message_is_queued_for_remote(self):
        with self.smtp(self.relay) as s:
            s.sendmail("r@example.net", ["far@remote.example"], b"Subject: relayed\r\n\r\nx\r\n")
        self.assertIn("far@remote.example", self.inst.mailq())

    def test_recipient_validation(self):
        me = self.inst.me
        a, b = self.alice.name, self.bob.name
        expect = {f"{a}@{me}": 250, f"{a.upper()}@{me.upper()}": 250, f"{a}-list@{me}": 250,
                  f"{a}-nolist@{me}": 550, f"{b}-anything@{me}": 250, f"nobody@{me}": 550,
                  f"postmaster@{me}": 250, "Postmaster": 250, f"root@{me}": 250, f"mailer-daemon@{me}": 250}
        with self.smtp() as s:
            s.ehlo()
            s.mail("v@example.net")
            for rcpt, code in expect.items():
                got, text = s.rcpt(rcpt)
                self.assertEqual(got, code, f"{rcpt}: {text}")
                if code == 550:
                    self.assertIn(b"5.1.1", text)

    def test_alias_catch_all_and_missing_database(self):
        me = self.inst.me
        cdb = os.path.join(self.inst.home, "control", "recipients.cdb")
        default = os.path.join(self.inst.alias_home, ".qmail-default")

        def code_for(rcpt):
            with self.smtp() as s:
                s.ehlo()
                s.mail("v@example.net")
                return s.rcpt(rcpt)[0]

        try:
            self.assertEqual(code_for(f"stranger@{me}"), 550)
            with open(default, "w") as f:
                f.write("./Maildir/\n")
            self.newrcpt()
            self.assertEqual(code_for(f"stranger@{me}"), 250)
            os.unlink(default)
            self.newrcpt()
            self.assertEqual(code_for(f"stranger@{me}"), 550)
            os.rename(cdb, cdb + ".away")
            self.assertEqual(code_for(f"stranger@{me}"), 250)  # no database: accept, as qmail
        finally:
            if os.path.exists(default):
                os.unlink(default)
            if os.path.exists(cdb + ".away"):
                os.rename(cdb + ".away", cdb)

    def test_virtual_domain_recipients(self):
        me = self.inst.me
        self.inst.control("virtualdomains", f"virt.example:{self.bob.name}")
        self.inst.control("rcpthosts", f"{me}\nlocalhost\nvirt.example")
        try:
            with self.smtp() as s:
                s.ehlo()
                s.mail("v@example.net")
                # bob has .qmail-default, so bob-anything exists.
                self.assertEqual(s.rcpt("anything@virt.example")[0], 250)
        finally:
            self.inst.control("virtualdomains", "")
            self.inst.control("rcpthosts", f"{me}\nlocalhost")

    def test_badmailfrom(self):
        with self.smtp() as s:
            s.ehlo()
            self.assertEqual(s.mail("Spammer@BAD.example")[0], 553)
            self.assertEqual(s.mail("anyone@worse.example")[0], 553)
            self.assertEqual(s.mail("good@bad.example")[0], 250)

    def test_size_refused_up_front_and_at_end(self):
        with self.smtp() as s:
            s.ehlo()
            code, text = s.mail("big@example.net", ["SIZE=300000"])
            self.assertEqual(code, 552, text)
            self.assertEqual(s.mail("big@example.net", ["SIZE=1000"])[0], 250)
            s.rcpt(self.alice.address)
            code, text = s.data(b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n" + (b"y" * 998 + b"\r\n") * 300)
            self.assertEqual(code, 552, text)
            self.assertEqual(s.noop()[0], 250)  # the session goes on
        wait_log(self.plain, "the message is too big")
        # queue was stopped without an envelope: it left nothing behind.
        mess = os.path.join(self.inst.home, "queue", "mess")
        self.assertFalse([f for f in os.listdir(mess) if os.path.getsize(os.path.join(mess, f)) > 300000])

    def test_bdat_chunks(self):
        before = set(maildir_files(self.alice.maildir))
        r = greet(self.plain.port)
        r.send(f"MAIL FROM:<b@example.net>\r\nRCPT TO:<{self.alice.address}>\r\n")
        self.assertEqual([c for c, _ in r.replies(2)], [250, 250])
        part1 = b"Subject: chunked\r\n\r\nfirst part, "
        part2 = b"second part\r\n.not stuffed\r\n"
        r.send(b"BDAT %d\r\n" % len(part1) + part1 + b"BDAT %d\r\n" % len(part2) + part2 + b"BDAT 0 LAST\r\n")
        codes = r.replies(3)
        self.assertEqual([c for c, _ in codes], [250, 250, 250], codes)
        self.assertIn("ok ", codes[2][1])
        # BDAT without MAIL is refused but its bytes are still read.
        r.send(b"BDAT 5 LAST\r\nhelloNOOP\r\n")
        self.assertEqual([c for c, _ in r.replies(2)], [503, 250])
        r.close()
        _, msg = newest(self.inst, self.alice.maildir, before, "chunked")
        self.assertEqual(msg.get_content(), "first part, second part\n.not stuffed\n")

    def test_smtputf8(self):
        before = set(maildir_files(self.alice.maildir))
        r = greet(self.plain.port)
        self.assertEqual(r.command("MAIL FROM:<jörg@example.net>")[0], 553)
        self.assertEqual(r.command("MAIL FROM:<jörg@example.net> SMTPUTF8")[0], 250)
        self.assertEqual(r.command(f"RCPT TO:<{self.alice.address}>")[0], 250)
        self.assertEqual(r.command("DATA")[0], 354)
        r.send("Subject: grüße\r\n\r\nüber\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250)
        r.close()
        path, _ = newest(self.inst, self.alice.maildir, before, "grüße")
        with open(path, "rb") as f:
            data = f.read()
        self.assertIn("with UTF8SMTP id".encode(), data)
        self.assertIn("Return-Path: <jörg@example.net>".encode(), data)

    def test_order_and_errors(self):
        r = Raw(self.plain.port)
        r.reply()
        self.assertEqual(r.command("MAIL FROM:<a@b.example>")[0], 503)  # HELO first
        self.assertEqual(r.command("EHLO x")[0], 250)
        self.assertEqual(r.command("RCPT TO:<a@b.example>")[0], 503)
        self.assertEqual(r.command("DATA")[0], 503)
        self.assertEqual(r.command("MAIL FROM:<a@b.example>")[0], 250)
        self.assertEqual(r.command("DATA")[0], 554)  # no recipients
        self.assertEqual(r.command("MAIL TO:<x>")[0], 503)  # already in a transaction
        self.assertEqual(r.command("RCPT TO:<" + self.alice.address + "> NOTIFY=NEVER")[0], 555)
        self.assertEqual(r.command("RCPT TO:<nodomain>")[0], 553)
        r.close()
        r = greet(self.plain.port)
        codes = [r.command(f"BOGUS{i}")[0] for i in range(9)]
        self.assertTrue(all(c == 502 for c in codes), codes)
        self.assertEqual(r.command("BOGUS10")[0], 421)
        self.assertTrue(r.closed())

    def test_commands_allowed_before_helo(self):
        """RFC 5321 4.1.4: RSET, NOOP, VRFY and HELP need no EHLO first."""
        r = Raw(self.plain.port)
        r.reply()
        codes = [r.command(c)[0] for c in ("NOOP", "RSET", "VRFY alice", "HELP")]
        self.assertEqual(codes, [250, 250, 252, 214])
        self.assertEqual(r.command("QUIT")[0], 221)
        r.close()

    def test_out_of_order_commands_count_as_errors(self):
        """A client that keeps sending MAIL before EHLO is closed like one
        that sends unknown commands: the 10th error gets 421."""
        r = Raw(self.plain.port)
        r.reply()
        codes = [r.command("MAIL FROM:<a@b.example>")[0] for _ in range(9)]
        self.assertEqual(codes, [503] * 9)
        self.assertEqual(r.command("MAIL FROM:<a@b.example>")[0], 421)
        self.assertTrue(r.closed())

    def test_no_recipient_between_bdat_chunks(self):
        """RFC 3030: once chunks have started, the envelope is closed."""
        before = set(maildir_files(self.bob.maildir))
        r = greet(self.plain.port)
        r.send(f"MAIL FROM:<b@example.net>\r\nRCPT TO:<{self.alice.address}>\r\n")
        self.assertEqual([c for c, _ in r.replies(2)], [250, 250])
        part = b"Subject: late rcpt\r\n\r\nbody\r\n"
        r.send(b"BDAT %d\r\n" % len(part) + part)
        self.assertEqual(r.reply()[0], 250)
        code, text = r.command(f"RCPT TO:<{self.bob.address}>")
        self.assertEqual(code, 503, text)
        self.assertIn("RCPT cannot follow BDAT", text)
        self.assertEqual(r.command("DATA")[0], 503)
        self.assertEqual(r.command("BDAT 0 LAST")[0], 250)
        r.close()
        newest(self.inst, self.alice.maildir, set(), "late rcpt")
        self.inst.wait_queue_empty()
        self.assertEqual(set(maildir_files(self.bob.maildir)), before)

    def test_never_serves_a_network_client_as_root(self):
        """tcpserver without -u/-g would run smtpd as root: it refuses with
        421 and says how to fix it, and queues nothing."""
        root = SmtpServer.__new__(SmtpServer)
        TcpServer.__init__(root, self.inst, "smtpd", (), ["-l", "0"])
        try:
            r = Raw(root.port)
            code, text = r.reply()
            self.assertEqual(code, 421, text)
            self.assertTrue(r.closed())
            wait_log(root, "refusing to serve 127.0.0.1 as root: run smtpd under tcpserver -u and -g")
        finally:
            root.stop()

    def test_root_sendmail_bs_runs_as_the_daemon_user(self):
        """Root's own sendmail -bs works, but the dialogue is parsed with
        posternd's rights; Received: still names uid 0."""
        before = set(maildir_files(self.bob.maildir))
        p = subprocess.Popen([os.path.join(self.inst.bin, "sendmail"), "-bs"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=make_env(), cwd="/")
        try:
            self.assertTrue(p.stdout.readline().startswith(b"220"))
            with open(f"/proc/{p.pid}/status") as f:
                uids = [int(x) for l in f if l.startswith("Uid:") for x in l.split()[1:]]
            self.assertEqual(set(uids), {pwd.getpwnam("posternd").pw_uid})
            script = (f"EHLO rootmua\r\nMAIL FROM:<root@example.net>\r\nRCPT TO:<{self.bob.address}>\r\n"
                      f"DATA\r\nSubject: root bs\r\n\r\nvia -bs as root\r\n.\r\nQUIT\r\n")
            out, err = p.communicate(script.encode(), timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertIn(b"250 2.0.0 ok", out, out + err)
        _, msg = newest(self.inst, self.bob.maildir, before, "root bs")
        self.assertIn("from rootmua (invoked by uid 0)", " ".join(str(r) for r in msg.get_all("Received")))

    def test_sendmail_bs_is_local_submission(self):
        before = set(maildir_files(self.bob.maildir))
        script = (f"EHLO mua\r\nMAIL FROM:<me@example.net>\r\nRCPT TO:<far@remote.example>\r\n"
                  f"RCPT TO:<{self.bob.address}>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n")
        p = self.inst.sendmail(["-bs"], script, user=self.alice)
        out = p.stdout.decode()
        codes = [int(l[:3]) for l in out.splitlines() if l[3:4] == " "]
        self.assertEqual(codes, [220, 250, 250, 250, 250, 354, 250, 221], out + p.stderr.decode())
        _, msg = newest(self.inst, self.bob.maildir, before, "bs")
        uid = self.alice.uid if self.inst.multi else os.getuid()
        self.assertIn(f"from mua (invoked by uid {uid})", " ".join(str(r) for r in msg.get_all("Received")))


    def test_swaks_through_sendmail_bs(self):
        """swaks --pipe ignores SIGCHLD, which its child inherits."""
        before = set(maildir_files(self.bob.maildir))
        p = subprocess.run(["swaks", "--pipe", os.path.join(self.inst.bin, "sendmail") + " -bs", "--from",
                            "pipe@example.net", "--to", self.bob.address, "--header", "Subject: swaks pipe"],
                           capture_output=True, timeout=60, env=make_env())
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        newest(self.inst, self.bob.maildir, before, "swaks pipe")


class SmtpdSingleUser(Smtpd):
    """Everything runs as the invoking user: the root rules have no
    meaning there and are left out (not skipped)."""
    MULTI = False
    test_never_serves_a_network_client_as_root = None
    test_root_sendmail_bs_runs_as_the_daemon_user = None


if __name__ == "__main__":
    unittest.main()
