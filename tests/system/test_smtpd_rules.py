"""One rule for a message's text, whichever way it comes in: the same
bytes sent over SMTP (raw socket, through tcpserver and smtpd), through
inject and through sendmail are accepted or refused alike, with the same
reason in smtpd's log and on inject's stderr, and nothing refused is
queued or delivered. The rules (mail/message_rules.hpp): no NUL byte, a
header of at most 256 KB however its lines are cut, at most 100
Received:/Delivered-To: fields; lines of any length in the body."""
import os
import subprocess
import unittest

from harness import ServerTestCase, Instance, maildir_files, make_env, remove_test_users
from smtp_helpers import SmtpServer, greet, wait_log

NUL = "the message contains a NUL byte"
HEADER = "the header is larger than 256 KB"
LOOP = "too many Received or Delivered-To fields (a mail loop?)"
KB = 1024


def cases():
    """(name, message with LF line ends, None when accepted or the reason)."""
    filler = b"".join(b"X-Filler-%03d: " % i + b"z" * 1000 + b"\n" for i in range(300))
    fits = b"X-Fits: " + b"f" * (256 * KB - 200) + b"\n"
    return [
        ("nul-body", b"Subject: nul-body\n\nbefore\0after\n", NUL),
        ("nul-header", b"Subject: nul-header\0\n\nbody\n", NUL),
        ("long-header-line", b"Subject: long-header-line\nX-Long: " + b"h" * (1 << 20) + b"\n\nbody\n", HEADER),
        ("many-header-lines", b"Subject: many-header-lines\n" + filler + b"\nbody\n", HEADER),
        ("header-fits", b"Subject: header-fits\n" + fits + b"\nbody\n", None),
        ("long-body-line", b"Subject: long-body-line\n\n" + b"b" * (1 << 20) + b"\n", None),
        ("no-header-long-line", b"no-header-long-line " + b"n" * (1 << 20) + b"\n", None),
        ("loop", b"".join(b"Received: from hop%d by x; date\n" % i for i in range(101)) +
         b"Subject: loop\n\nbody\n", LOOP),
    ]


class Rules(ServerTestCase):
    MULTI = None

    @classmethod
    def setUpClass(cls):
        inst = cls.inst = Instance(multi=cls.MULTI)
        try:
            cls.alice = inst.add_user("alice")
            inst.start()
            cls.server = SmtpServer(inst)
        except Exception:
            cls.tearDownClass()
            raise

    def smtp(self, message):
        """Sends message (LF ends) over SMTP: the reply to the end of DATA."""
        r = greet(self.server.port)
        r.send(f"MAIL FROM:<s@example.net>\r\nRCPT TO:<{self.alice.address}>\r\nDATA\r\n")
        self.assertEqual([c for c, _ in r.replies(3)], [250, 250, 354])
        r.send(message.replace(b"\n", b"\r\n") + b".\r\n")
        reply = r.reply()
        self.assertEqual(r.command("QUIT")[0], 221)  # the session went on
        r.close()
        return reply

    def delivered(self, marker):
        found = 0
        for path in maildir_files(self.alice.maildir):
            with open(path, "rb") as f:
                if marker in f.read():
                    found += 1
        return found

    def test_same_rule_over_smtp_inject_and_sendmail(self):
        for name, message, reason in cases():
            with self.subTest(case=name):
                code, text = self.smtp(message)
                inj = self.inst.inject([self.alice.address], message, user=self.alice)
                sm = self.inst.sendmail(["-i", self.alice.address], message, user=self.alice)
                if reason is None:
                    self.assertEqual(code, 250, text)
                    self.assertEqual(inj.returncode, 0, inj.stderr)
                    self.assertEqual(sm.returncode, 0, sm.stderr)
                    continue
                self.assertEqual(code, 552 if reason == HEADER else 554, text)
                wait_log(self.server, f'reason="{reason}"')
                for p in (inj, sm):
                    self.assertEqual(p.returncode, 100, p.stderr)
                    self.assertIn(reason, p.stderr.decode())
        self.inst.wait_queue_empty()
        for name, _, reason in cases():
            with self.subTest(delivered=name):
                self.assertEqual(self.delivered(name.encode()), 0 if reason else 3)

    def test_nul_reply_and_log_line(self):
        code, text = self.smtp(b"Subject: nul reply\n\nx\0y\n")
        self.assertEqual(code, 554)
        self.assertIn("5.6.0", text)
        self.assertIn("NUL", text)
        wait_log(self.server, f'reject client=127.0.0.1 ')
        self.assertRegex(self.server.log(), rf'reject client=127\.0\.0\.1 helo=\S+ from=<\S*> code=554 dsn=5\.6\.0 '
                                            rf'reason="{NUL}"')
        p = self.inst.inject(["-n", self.alice.address], b"Subject: printed\n\n\0\n")
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"inject: fatal: " + NUL.encode(), p.stderr)

    def queue_running(self):
        prog = os.path.join(self.inst.bin, "queue")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/exe") == prog:
                    return True
            except OSError:
                pass
        return False

    def test_inject_exits_only_when_queue_has_dropped_the_message(self):
        """A refusal found late (a NUL after 30 MB of body, which queue has
        been writing) is reported only once queue has removed its file: at
        inject's exit there is no queue process and no file left."""
        self.inst.wait_queue_empty()
        q = os.path.join(self.inst.home, "queue")
        before = {d: sorted(os.listdir(os.path.join(q, d))) for d in ("mess", "pid", "todo")}
        text = b"Subject: late nul\n\n" + (b"y" * 999 + b"\n") * 30000 + b"\0\n"
        # stderr to a file, as a script's 2>log: only inject's own exit is
        # waited for, not the end of a pipe that queue shares.
        errors = os.path.join(self.inst.tmp, "inject-errors")
        with open(errors, "wb") as err:
            p = subprocess.run([os.path.join(self.inst.bin, "inject"), self.alice.address], input=text,
                               stdout=subprocess.DEVNULL, stderr=err, env=make_env(), cwd="/", timeout=120)
        running = self.queue_running()
        after = {d: sorted(os.listdir(os.path.join(q, d))) for d in ("mess", "pid", "todo")}
        with open(errors, "rb") as f:
            self.assertEqual(p.returncode, 100, f.read())
        self.assertFalse(running)
        self.assertEqual(after, before)

    def test_nothing_refused_stays_in_the_queue(self):
        mess = os.path.join(self.inst.home, "queue", "mess")
        big = b"Subject: spill\n\n" + b"x" * (2 << 20) + b"\0\n"
        self.assertEqual(self.smtp(big)[0], 554)
        self.assertEqual(self.inst.inject([self.alice.address], big).returncode, 100)
        self.inst.wait_queue_empty()
        leftover = [f for d, _, fs in os.walk(mess) for f in fs if os.path.getsize(os.path.join(d, f)) > (1 << 20)]
        self.assertEqual(leftover, [])
        self.assertEqual(self.delivered(b"spill"), 0)


if __name__ == "__main__":
    unittest.main()
