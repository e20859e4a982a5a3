"""~/.forward through dot-forward, in the default delivery of the maildir+df
boot variant: addresses, |command, /file, \\user, comments, several entries
a line, no .forward, a .qmail that wins, and an unsafe .forward."""
import mailbox
import os
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for

MAILDIR_DF = "|dot-forward .forward\n./Maildir/"


def subjects(maildir):
    return [read_message(p)["Subject"] for p in maildir_files(maildir)]


class Forward(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance(delivery=MAILDIR_DF)
        cls.alice = inst.add_user("alice")  # the sender
        cls.bob = inst.add_user("bob")      # forward targets
        cls.carol = inst.add_user("carol")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, user, subject, body="the body\n"):
        p = self.inst.inject(["-f", self.alice.address, user.address], f"Subject: {subject}\n\n{body}")
        self.assertEqual(p.returncode, 0, p.stderr)

    def wait_subject(self, user, subject, count=1):
        return wait_for(lambda: subjects(user.maildir).count(subject) >= count, 20,
                        f"{count} x {subject!r} in {user.maildir}\nlog:\n" + self.inst.log()[-3000:])

    def test_address_forwards_and_keeps_no_copy(self):
        inst, bob = self.inst, self.bob
        u = inst.add_user("fwaddr")
        u.write(".forward", f"{bob.address}\n")
        self.send(u, "forward to bob")
        self.wait_subject(bob, "forward to bob")
        inst.wait_queue_empty()
        msg = read_message([p for p in maildir_files(bob.maildir) if read_message(p)["Subject"] == "forward to bob"][0])
        self.assertEqual(msg["Return-Path"], f"<{self.alice.address}>", "the envelope sender is kept")
        self.assertIn(u.address, msg.get_all("Delivered-To"))
        self.assertEqual(maildir_files(u.maildir), [], "no local copy without \\user")

    def test_program(self):
        inst = self.inst
        u = inst.add_user("fwprog")
        out = os.path.join(u.home, "piped")
        u.write(".forward", f"\"|cat > {out}\"\n")
        self.send(u, "to a program", "piped body\n")
        wait_for(lambda: os.path.exists(out) and open(out, "rb").read().endswith(b"piped body\n"), 20,
                 "the program's output\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        with open(out) as f:
            self.assertIn("Subject: to a program\n", f.read())
        self.assertEqual(os.stat(out).st_uid, u.uid, "the program runs as the user")
        self.assertEqual(maildir_files(u.maildir), [])

    def test_file(self):
        inst = self.inst
        u = inst.add_user("fwfile")
        box = os.path.join(u.home, "forward-box")
        u.write(".forward", f"{box}\n")
        self.send(u, "to a file", "mbox body\n")
        wait_for(lambda: os.path.exists(box) and open(box, "rb").read().endswith(b"mbox body\n\n"), 20,
                 "the mbox\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        self.assertEqual(os.stat(box).st_uid, u.uid)
        mb = mailbox.mbox(box, create=False)
        try:
            msgs = list(mb)
        finally:
            mb.close()
        self.assertEqual([m["Subject"] for m in msgs], ["to a file"])
        self.assertTrue(msgs[0].get_from().startswith(self.alice.address + " "), msgs[0].get_from())
        self.assertEqual(msgs[0]["Delivered-To"], u.address)
        self.assertEqual(maildir_files(u.maildir), [])

    def test_backslash_user_keeps_a_local_copy(self):
        inst, bob = self.inst, self.bob
        u = inst.add_user("fwkeep")
        u.write(".forward", f"\\{u.name}, {bob.address}\n")
        self.send(u, "keep and forward")
        self.wait_subject(u, "keep and forward")
        self.wait_subject(bob, "keep and forward")
        inst.wait_queue_empty()
        self.assertEqual(subjects(u.maildir), ["keep and forward"], "exactly one local copy")
        self.assertEqual(read_message(maildir_files(u.maildir)[0])["Delivered-To"], u.address)

    def test_comments_and_several_entries_on_a_line(self):
        inst, bob, carol = self.inst, self.bob, self.carol
        u = inst.add_user("fwmany")
        box = os.path.join(u.home, "many-box")
        u.write(".forward", f"# where my mail goes\n\n{bob.address}, {carol.name},  {box}\n"
                            f"# {u.name}-never@{inst.me}\n")
        self.send(u, "to many")
        self.wait_subject(bob, "to many")
        self.wait_subject(carol, "to many")
        wait_for(lambda: os.path.exists(box) and b"Subject: to many" in open(box, "rb").read(), 20, "the mbox")
        inst.wait_queue_empty()
        self.assertEqual(subjects(bob.maildir).count("to many"), 1)
        self.assertEqual(subjects(carol.maildir).count("to many"), 1)
        self.assertEqual(maildir_files(u.maildir), [])
        self.assertNotIn("never", inst.log(), "a comment is not an address")

    def test_no_forward_delivers_to_maildir(self):
        inst = self.inst
        u = inst.add_user("fwnone")
        self.send(u, "plain delivery")
        self.wait_subject(u, "plain delivery")
        inst.wait_queue_empty()
        self.assertEqual(subjects(u.maildir), ["plain delivery"])

    def test_dot_qmail_wins_over_forward(self):
        inst, bob = self.inst, self.bob
        u = inst.add_user("fwqmail")
        u.write(".forward", f"{bob.address}\n")
        u.write(".qmail", "./Maildir/\n")
        self.send(u, "qmail wins")
        self.wait_subject(u, "qmail wins")
        inst.wait_queue_empty()
        self.assertNotIn("qmail wins", subjects(bob.maildir))

    def test_group_writable_forward_defers(self):
        inst, bob = self.inst, self.bob
        u = inst.add_user("fwunsafe")
        u.write(".forward", f"{bob.address}\n", mode=0o664)
        self.send(u, "unsafe forward")
        wait_for(lambda: ".forward" in inst.mailq(), 20, "mailq to show the deferral\n" + inst.log()[-2000:])
        q = inst.mailq()
        self.assertIn(u.address, q)
        self.assertIn("only you can write", q)
        self.assertEqual(maildir_files(u.maildir), [], "nothing delivered while the file is unsafe")
        self.assertNotIn("unsafe forward", subjects(bob.maildir))
        # Fixed by its owner, the retry delivers.
        os.chmod(os.path.join(u.home, ".forward"), 0o644)
        inst.retry()
        self.wait_subject(bob, "unsafe forward")
        inst.wait_queue_empty()
        self.assertEqual(maildir_files(u.maildir), [])


if __name__ == "__main__":
    unittest.main()
