"""A ~/.forward program gets the message as sendmail and Postfix hand it:
after a "From sender date" line, Return-Path: and Delivered-To:. The habit
this keeps working is `|/usr/bin/vacation user` (vacation refuses a message
without the From line: "no initial From line"). The command goes to the
shell whole, quotes and pipes included."""
import os
import re
import unittest

from harness import Instance, remove_test_users, wait_for

MAILDIR_DF = "|dot-forward .forward\n./Maildir/"


class ForwardFromLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance(delivery=MAILDIR_DF)
        cls.alice = inst.add_user("alice")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def deliver_to_program(self, name, forward_line, out):
        u = self.inst.add_user(name)
        u.write(".forward", forward_line)
        p = self.inst.inject(["-f", self.alice.address, u.address], f"Subject: for {name}\n\nthe body\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.inst.wait_queue_empty()
        wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 20,
                 "the program's output\n" + self.inst.log()[-2000:])
        with open(out, "rb") as f:
            return u, f.read()

    def test_program_gets_a_from_line_first(self):
        out = "/tmp/postern-fwd-from-%d" % os.getpid()
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        u, text = self.deliver_to_program("fwfrom", f'"|cat > {out}"\n', out)
        first, rest = text.split(b"\n", 1)
        self.assertRegex(first.decode(), r"^From " + re.escape(self.alice.address) + r" \w{3} \w{3} [ \d]\d ",
                         "an mbox From_ line with the envelope sender and a date")
        self.assertTrue(rest.startswith(f"Return-Path: <{self.alice.address}>\n".encode()), text[:300])
        self.assertIn(f"Delivered-To: {u.address}\n".encode(), rest)
        self.assertIn(b"Subject: for fwfrom\n", rest)
        self.assertTrue(rest.endswith(b"the body\n"))

    def test_command_with_quotes_and_a_pipe_goes_to_the_shell_whole(self):
        out = "/tmp/postern-fwd-quote-%d" % os.getpid()
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        # Single quotes inside the command, and a pipe: both must reach sh.
        _, text = self.deliver_to_program("fwquote", f"\"|head -1 | sed 's/^From /FROM /' > {out}\"\n", out)
        self.assertTrue(text.startswith(b"FROM " + self.alice.address.encode()), text)


if __name__ == "__main__":
    unittest.main()
