"""smtpd's defences, with raw sockets through a real tcpserver: every SMTP
smuggling variant published in 2023, bare LF and lone CR, the timeout,
endless lines and headers, mail loops."""
import os
import time
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from smtp_helpers import Raw, SmtpServer, greet, wait_log


class Limits(unittest.TestCase):
    MULTI = None

    @classmethod
    def setUpClass(cls):
        inst = cls.inst = Instance(multi=cls.MULTI)
        try:
            cls.alice = inst.add_user("alice")
            cls.bob = inst.add_user("bob")
            inst.control("timeoutsmtpd", "2")
            inst.start()
            cls.server = SmtpServer(inst)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

    def start_data(self, r, rcpt=None):
        r.send(f"MAIL FROM:<s@example.net>\r\nRCPT TO:<{rcpt or self.alice.address}>\r\nDATA\r\n")
        self.assertEqual([c for c, _ in r.replies(3)], [250, 250, 354])

    def settle(self):
        """Lets anything that was queued be delivered."""
        time.sleep(0.5)
        self.inst.wait_queue_empty()

    def test_smuggling_variants(self):
        """Each variant tries to end DATA early and smuggle a second message
        for bob: nothing may reach bob, and the carrier is refused."""
        variants = {
            "LF.LF": b"\n.\n", "CR.CR": b"\r.\r", "LF.CRLF": b"\n.\r\n", "CRLF.LF": b"\r\n.\n",
            "CR.CRLF": b"\r.\r\n", "CRLF.CR": b"\r\n.\r", "LF.CR": b"\n.\r", "CR.LF": b"\r.\n",
            "CRLF.CRCRLF": b"\r\n.\r\r\n", "CRLFLF.CRLF": b"\r\n\n.\r\n", "CRLF.LFCRLF": b"\r\n.\n\r\n",
            "NUL": b"\r\n\x00.\r\n",
        }
        bob_before = set(maildir_files(self.bob.maildir))
        alice_before = set(maildir_files(self.alice.maildir))
        for name, end in variants.items():
            with self.subTest(variant=name):
                r = greet(self.server.port)
                self.start_data(r)
                smuggled = (b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<" + self.bob.address.encode() +
                            b">\r\nDATA\r\nSubject: smuggled " + name.encode() + b"\r\n\r\nevil\r\n.\r\n")
                r.send(b"Subject: carrier " + name.encode() + b"\r\n\r\ntext" + end + smuggled)
                code, text = r.reply()
                # A NUL is no line end either: the carrier ends at the real
                # CRLF.CRLF after "evil", and is refused for its NUL.
                self.assertEqual(code, 554, f"{name}: {text}")
                self.assertEqual(r.command("NOOP")[0], 250)  # exactly one reply: no second transaction
                self.assertEqual(r.command("QUIT")[0], 221)
                r.close()
        self.settle()
        self.assertEqual(set(maildir_files(self.bob.maildir)), bob_before)
        self.assertEqual(set(maildir_files(self.alice.maildir)), alice_before)
        wait_log(self.server, "a bare LF in the message")
        wait_log(self.server, "a lone CR in the message")
        wait_log(self.server, "the message contains a NUL byte")

    def test_bare_lf_message_refused_and_nothing_queued(self):
        before = set(maildir_files(self.alice.maildir))
        r = greet(self.server.port)
        self.start_data(r)
        r.send(b"Subject: bare\n\nbody\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554)
        self.assertIn("5.6.0", text)
        r.close()
        self.settle()
        self.assertEqual(set(maildir_files(self.alice.maildir)), before)
        mess = os.path.join(self.inst.home, "queue", "mess")
        wait_for(lambda: os.listdir(mess) == [], 20, "queue/mess to empty")

    def test_silent_client_dropped_at_timeout(self):
        r = Raw(self.server.port)
        self.assertEqual(r.reply()[0], 220)
        started = time.time()
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertTrue(r.closed())
        self.assertLess(time.time() - started, 8)

    def test_silent_inside_data_dropped_and_nothing_queued(self):
        before = set(maildir_files(self.alice.maildir))
        r = greet(self.server.port)
        self.start_data(r)
        r.send(b"Subject: half\r\n\r\nsome text, then silence")
        code, _ = r.reply()
        self.assertEqual(code, 421)
        self.assertTrue(r.closed())
        self.settle()
        self.assertEqual(set(maildir_files(self.alice.maildir)), before)

    def test_endless_command_line(self):
        r = Raw(self.server.port)
        r.reply()
        try:
            for _ in range(50):
                r.send(b"X" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        code, text = r.reply()
        self.assertEqual(code, 500, text)
        self.assertIn("too long", text)
        self.assertTrue(r.closed())

    def test_long_data_lines_are_fine(self):
        before = set(maildir_files(self.alice.maildir))
        r = greet(self.server.port)
        self.start_data(r)
        r.send(b"Subject: long\r\n\r\n" + b"y" * 200000 + b"\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250)
        r.close()
        files = self.inst.wait_maildir(self.alice.maildir, len(before) + 1)
        new = [f for f in files if f not in before]
        self.assertIn("y" * 200000, read_message(new[0]).get_content())

    def test_endless_header_refused(self):
        r = greet(self.server.port)
        self.start_data(r)
        line = b"X-Filler: " + b"z" * 1000 + b"\r\n"
        r.send(b"Subject: endless\r\n" + line * 400 + b"\r\nbody\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 552, text)
        self.assertIn("header", text)
        self.assertEqual(r.command("QUIT")[0], 221)

    def test_too_many_hops_refused(self):
        r = greet(self.server.port)
        self.start_data(r)
        r.send(b"".join(b"Received: from hop%d by x; date\r\n" % i for i in range(60)) +
               b"".join(b"Delivered-To: loop%d@example.net\r\n" % i for i in range(41)) + b"\r\nloop\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertIn("5.4.6", text)
        r.close()

    def test_queue_failure_gives_451(self):
        # Neither way into the queue works: queued's socket is gone from its
        # place (queued(8)) and bin/queue, the fallback, too.
        queue = os.path.join(self.inst.bin, "queue")
        writer = os.path.join(self.inst.home, "queue", "lock", "queued")
        moved = [p for p in (queue, writer) if os.path.exists(p)]
        for p in moved:
            os.rename(p, p + ".away")
        try:
            r = greet(self.server.port)
            self.start_data(r)
            r.send(b"Subject: no queue\r\n\r\nx\r\n.\r\n")
            code, text = r.reply()
            self.assertEqual(code, 451, text)
            self.assertIn("4.3.0", text)
            r.close()
        finally:
            for p in moved:
                os.rename(p + ".away", p)
        wait_log(self.server, "code=451 dsn=4.3.0")

    def test_many_recipients_bounded(self):
        self.inst.control("maxrcpt", "3")
        try:
            r = greet(self.server.port)
            r.send("MAIL FROM:<s@example.net>\r\n" + f"RCPT TO:<{self.alice.address}>\r\n" * 4)
            self.assertEqual([c for c, _ in r.replies(5)], [250, 250, 250, 250, 452])
            r.close()
        finally:
            self.inst.control("maxrcpt", "")


class LimitsSingleUser(Limits):
    MULTI = False


if __name__ == "__main__":
    unittest.main()
