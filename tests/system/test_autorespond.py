"""autorespond(1) from a user's .qmail in a real instance: the first
message of a sender is answered (Auto-Submitted, In-Reply-To, "Re:", the
null envelope sender), the second within the interval is not, and neither
are list mail, bulk and auto-submitted mail, the null sender, nor mail
that does not name the user in To:/Cc:. Run by hand as a ~/.forward
program would be, it skips a leading From_ line; its state stays bounded."""
import os
import unittest

from harness import Instance, ServerTestCase, maildir_files, read_message, wait_for


class Autorespond(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.alice = inst.add_user("aralice")
            cls.carol = inst.add_user("arcarol")
            cls.dave = inst.add_user("ardave")
            cls.bob = bob = inst.add_user("arbob")
            bob.write("away.txt", "I am away until Monday.\n")
            bob.write(".qmail", "./Maildir/\n|autorespond away.txt\n")
            inst.start()
        except Exception:
            cls.tearDownClass()
            raise

    def send(self, sender, subject, extra="", to=None, envelope=None):
        to = to or self.bob.address
        msg = (f"From: {sender.address}\nTo: {to}\n"
               f"Subject: {subject}\nMessage-ID: <{subject.replace(' ', '.')}@test.example>\n{extra}\nbody\n")
        p = self.inst.inject(["-f", envelope if envelope is not None else sender.address, self.bob.address], msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: any(read_message(f)["Subject"] == subject for f in maildir_files(self.bob.maildir)), 30,
                 f"'{subject}' in bob's Maildir\n" + self.inst.log()[-3000:])
        self.inst.wait_queue_empty(60)

    def replies(self, user, subject):
        return [m for m in (read_message(f) for f in maildir_files(user.maildir)) if m["Subject"] == "Re: " + subject]

    def test_first_answered_second_not(self):
        self.send(self.alice, "first one")
        got = wait_for(lambda: self.replies(self.alice, "first one"), 30, "the reply\n" + self.inst.log()[-3000:])
        r = got[0]
        self.assertEqual(r["Auto-Submitted"], "auto-replied")
        self.assertEqual(r["In-Reply-To"], "<first.one@test.example>")
        self.assertIn("<first.one@test.example>", r["References"])
        self.assertEqual(r["Return-Path"], "<>")
        self.assertEqual(r["To"], self.alice.address)
        self.assertEqual(r["From"], self.bob.address)
        self.assertIn("I am away until Monday.", r.get_content())
        self.send(self.alice, "second one")
        self.assertEqual(self.replies(self.alice, "second one"), [])
        self.assertEqual(len(self.replies(self.alice, "first one")), 1)

    def test_list_bulk_and_auto_submitted_not_answered(self):
        for i, extra in enumerate(["List-Id: <things.lists.example>\n", "Precedence: bulk\n",
                                   "Auto-Submitted: auto-generated\n", "List-Unsubscribe: <mailto:x@y>\n"]):
            self.send(self.carol, f"robot {i}", extra)
            self.assertEqual(self.replies(self.carol, f"robot {i}"), [], extra)
        # carol, a person, is then answered: the refusals were the header's.
        self.send(self.carol, "person", "Auto-Submitted: no\n")
        wait_for(lambda: self.replies(self.carol, "person"), 30, "the reply to carol")

    def test_null_sender_and_mailer_daemon_not_answered(self):
        # The header names dave: a responder that answered From: would
        # write to him; the envelope sender is what counts.
        self.send(self.dave, "from nobody", envelope="")
        self.send(self.dave, "from a daemon", envelope=f"MAILER-DAEMON@{self.inst.me}")
        self.assertEqual(self.replies(self.dave, "from nobody"), [])
        self.assertEqual(self.replies(self.dave, "from a daemon"), [])

    def test_not_in_to_or_cc_not_answered(self):
        self.send(self.dave, "bcc to bob", to="someone@elsewhere.example")
        self.assertEqual(self.replies(self.dave, "bcc to bob"), [])

    def test_from_line_and_bounded_state(self):
        """As a ~/.forward program: the message starts with a From_ line.
        With -n 2 the state directory keeps at most two senders."""
        state = os.path.join(self.bob.home, "state-small")
        for user in (self.alice, self.carol, self.dave):
            msg = (f"From {user.address} Mon Nov 30 12:00:00 2026\nFrom: {user.address}\n"
                   f"To: {self.bob.address}\nSubject: by hand {user.name}\n\nhi\n")
            env = {"SENDER": user.address, "LOCAL": self.bob.name, "HOST": self.inst.me, "HOME": self.bob.home,
                   "USER": self.bob.name}
            p = self.inst.run("autorespond", ["-n", "2", "-d", state, "away.txt"], msg.encode(), user=self.bob,
                              env=env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(b"answered", p.stdout)
            wait_for(lambda: self.replies(user, f"by hand {user.name}"), 30, "the reply\n" + self.inst.log()[-2000:])
        entries = [e for e in os.listdir(state) if not e.startswith(".")]
        self.assertLessEqual(len(entries), 2, entries)


if __name__ == "__main__":
    unittest.main()
