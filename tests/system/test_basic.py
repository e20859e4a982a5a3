"""The local mail system end to end: install, inject, queue, deliver."""
import os
import pwd
import stat
import subprocess
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, IS_ROOT


class Basic(unittest.TestCase):
    """Multi-user when the tests run as root (as in CI)."""
    MULTI = None

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=cls.MULTI)
        cls.alice = cls.inst.add_user("alice")
        cls.bob = cls.inst.add_user("bob")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def test_queue_protocol_and_delivery(self):
        """qmail-queue's interface: message on fd 0, envelope on fd 1."""
        inst = self.inst
        r, w = os.pipe()
        env = b"Fbob@" + inst.me.encode() + b"\0T" + self.alice.address.encode() + b"\0\0"
        os.write(w, env)
        os.close(w)
        before = len(maildir_files(self.alice.maildir))
        p = subprocess.run([os.path.join(inst.bin, "queue")], input=b"Subject: raw\n\nbody\n", stdout=r,
                           capture_output=False, timeout=30)
        os.close(r)
        self.assertEqual(p.returncode, 0)
        files = inst.wait_maildir(self.alice.maildir, before + 1)
        msg = read_message(files[-1])
        self.assertEqual(msg["Subject"], "raw")
        self.assertEqual(msg["Delivered-To"], self.alice.address)
        self.assertEqual(msg["Return-Path"], f"<bob@{inst.me}>")
        self.assertIn("postern", msg["Received"])

    def test_malformed_envelope_refused(self):
        inst = self.inst
        r, w = os.pipe()
        os.write(w, b"Xnonsense\0\0")
        os.close(w)
        p = subprocess.run([os.path.join(inst.bin, "queue")], input=b"x\n", stdout=r, stderr=subprocess.PIPE,
                           timeout=30)
        os.close(r)
        self.assertEqual(p.returncode, 91)
        self.assertIn(b"malformed envelope", p.stderr)

    def test_sendmail_delivers_to_maildir(self):
        inst = self.inst
        before = len(maildir_files(self.bob.maildir))
        p = inst.sendmail([self.bob.name], "Subject: hello bob\n\nhi there\n", user=self.alice)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(self.bob.maildir, before + 1)
        msg = read_message(files[-1])
        self.assertEqual(msg["Subject"], "hello bob")
        self.assertTrue(msg["Date"])
        self.assertTrue(msg["Message-ID"])
        # From: names whoever ran sendmail.
        sender = self.alice.name if self.inst.multi else pwd.getpwuid(os.getuid()).pw_name
        self.assertIn(sender, msg["From"])
        self.assertIn("hi there", msg.get_content())
        name = os.path.basename(files[-1])
        self.assertIn(f",S={os.path.getsize(files[-1])}", name)
        inst.wait_queue_empty()

    def test_sendmail_dot_ends_message_unless_i(self):
        # sendmail does inject's work itself; a lone '.' line ends the
        # message in the classic way, and with -i it is only a line.
        inst = self.inst
        before = len(maildir_files(self.bob.maildir))
        p = inst.sendmail(["-v", self.bob.name], "Subject: dot\n\nkept\n.\ndropped\n", user=self.alice)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"running inject", p.stderr)
        p = inst.sendmail(["-i", self.bob.name], "Subject: dot -i\n\nkept\n.\nkept too\n", user=self.alice)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(self.bob.maildir, before + 2)
        bodies = {read_message(f)["Subject"]: read_message(f).get_content() for f in files[-2:]}
        self.assertEqual(bodies["dot"], "kept\n")
        self.assertEqual(bodies["dot -i"], "kept\n.\nkept too\n")
        # inject's refusals and exit codes come through unchanged.
        p = inst.sendmail(["-i", "bad address@"], "Subject: x\n\nx\n", user=self.alice)
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"inject: fatal: invalid recipient address", p.stderr)
        p = inst.sendmail([self.bob.name], "Subject: nul\n\nx\0y\n.\n", user=self.alice)
        self.assertEqual(p.returncode, 100, p.stderr)
        inst.wait_queue_empty()

    def test_inject_recipients_from_header(self):
        inst = self.inst
        before_a = len(maildir_files(self.alice.maildir))
        before_b = len(maildir_files(self.bob.maildir))
        msg = f"To: {self.alice.name}\nBcc: {self.bob.address}\nSubject: two\n\nbody\n"
        p = inst.inject(["-h"], msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = inst.wait_maildir(self.alice.maildir, before_a + 1)
        b = inst.wait_maildir(self.bob.maildir, before_b + 1)
        for path in (a[-1], b[-1]):
            m = read_message(path)
            self.assertIsNone(m["Bcc"], "Bcc must be removed")
            self.assertEqual(m["Subject"], "two")

    def test_install_layout(self):
        q = os.path.join(self.inst.home, "queue")
        self.assertTrue(stat.S_ISFIFO(os.stat(os.path.join(q, "lock", "trigger")).st_mode))
        for d in ("mess", "todo", "state", "pid"):
            mode = os.stat(os.path.join(q, d)).st_mode
            self.assertEqual(mode & 0o007, 0, f"queue/{d} must not be open to others")
        if self.inst.multi:
            st = os.stat(os.path.join(self.inst.bin, "queue"))
            self.assertTrue(st.st_mode & stat.S_ISUID)
        for f in ("me", "locals", "rcpthosts"):
            self.assertTrue(os.path.exists(os.path.join(self.inst.home, "control", f)))
        with open(os.path.join(self.inst.home, "control", "locals")) as f:
            self.assertIn("localhost", f.read().split())

    def test_mailq_empty_and_root_goes_to_alias(self):
        inst = self.inst
        alias_maildir = os.path.join(inst.alias_home, "Maildir")
        before = len(maildir_files(alias_maildir))
        p = inst.inject(["root"], "Subject: for root\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(alias_maildir, before + 1)
        self.assertEqual(read_message(files[-1])["Subject"], "for root")
        inst.wait_queue_empty()
        self.assertIn("0 messages in the queue", inst.mailq())


class BasicSingleUser(Basic):
    """The same checks on a single-user instance (make run's kind)."""
    MULTI = False


if __name__ == "__main__":
    unittest.main()
