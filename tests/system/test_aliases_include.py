"""aliases(5) :include: of a file that does not exist: the alias bounces
(5.3.5, naming the file), as aliases(5) says and Postfix's local does,
instead of waiting in the queue; an include file that exists but cannot
be read still defers."""
import os
import unittest

from harness import Instance, ServerTestCase, maildir_files, read_message, wait_for


class IncludeMissing(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.eve = inst.add_user("incleve")
            cls.alice = inst.add_user("inclalice")
            cls.missing = os.path.join(inst.tmp, "no-such-list")
            cls.locked = os.path.join(inst.tmp, "locked-list")
            with open(cls.locked, "w") as f:
                f.write(f"{cls.alice.name}\n")
            os.chmod(cls.locked, 0o600 if inst.multi else 0o000)  # root's own: postalias cannot read it
            with open(inst.aliases, "w") as f:
                f.write(f"gone: :include:{cls.missing}\nlocked: :include:{cls.locked}\n")
            p = inst.run("newaliases", [])
            assert p.returncode == 0, p.stderr
            inst.start()
        except Exception:
            cls.tearDownClass()
            raise

    def send(self, local, subject):
        p = self.inst.inject(["-f", self.eve.address, f"{local}@{self.inst.me}"], f"Subject: {subject}\n\nhi\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing_include_file_bounces(self):
        self.send("gone", "to a missing list")

        def bounce():
            for path in maildir_files(self.eve.maildir):
                with open(path, "rb") as f:
                    raw = f.read()
                if b"failure notice" in raw and b"to a missing list" in raw:
                    return read_message(path)
            return None
        msg = wait_for(bounce, 40, "the bounce\n" + self.inst.log()[-3000:])
        text = msg.as_string()
        self.assertIn(self.missing, text)
        self.assertIn("does not exist", text)
        self.assertIn("Status: 5.3.5", text)
        self.inst.wait_queue_empty(30)

    @unittest.skipUnless(os.geteuid() == 0, "needs root: the file must be unreadable by postalias only")
    def test_unreadable_include_file_defers(self):
        self.send("locked", "to a locked list")
        q = wait_for(lambda: "include file" in self.inst.mailq() and self.inst.mailq(), 40,
                     "the deferral in mailq\n" + self.inst.log()[-3000:])
        self.assertIn("Permission denied", q)
        self.assertEqual(self.inst.queue_count(), 1)


if __name__ == "__main__":
    unittest.main()
