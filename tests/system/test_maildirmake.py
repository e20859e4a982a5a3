"""maildirmake(1): a Maildir (and a Maildir++ folder with -f) with the
right modes, made by the user it is for, into which mail is then
delivered; an existing Maildir is left alone, anything else that exists
is refused and left untouched."""
import os
import shutil
import stat
import unittest

from harness import Instance, ServerTestCase, maildir_files, read_message


class Maildirmake(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.sender = inst.add_user("mdsender")
            cls.user = inst.add_user("mduser")
            inst.start()
        except Exception:
            cls.tearDownClass()
            raise

    def make(self, *args):
        return self.inst.run("maildirmake", list(args), user=self.user)

    def assert_maildir(self, path):
        for d in (path, path + "/cur", path + "/new", path + "/tmp"):
            st = os.lstat(d)
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, d)
            self.assertEqual(st.st_uid, self.user.uid, d)

    def test_made_by_the_user_and_delivered_into(self):
        u = self.user
        shutil.rmtree(u.maildir)
        p = self.make(u.maildir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_maildir(u.maildir)
        p = self.inst.inject(["-f", self.sender.address, u.address], b"Subject: into a new Maildir\n\nhi\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.inst.wait_maildir(u.maildir, 1, 30)
        self.assertEqual(read_message(got[0])["Subject"], "into a new Maildir")
        # Again: an existing Maildir is no error and keeps its mail.
        p = self.make(u.maildir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(maildir_files(u.maildir)), 1)

    def test_folders(self):
        root = os.path.join(self.user.home, "Mail2")
        self.assertEqual(self.make(root).returncode, 0)
        for name, disk in (("Sent", ".Sent"), ("Work.Projects", ".Work.Projects"), ("Entwürfe", ".Entw&APw-rfe")):
            p = self.make("-f", name, root)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assert_maildir(os.path.join(root, disk))
            self.assertTrue(os.path.isfile(os.path.join(root, disk, "maildirfolder")), disk)
        self.assertEqual(self.make("-f", "Sent", root).returncode, 0, "an existing folder is no error")
        for bad in ("../escape", "INBOX", "a/b", ""):
            p = self.make("-f", bad, root)
            self.assertNotEqual(p.returncode, 0, bad)
        self.assertFalse(os.path.exists(os.path.join(self.user.home, "escape")))
        p = self.make("-f", "Sent", os.path.join(self.user.home, "nothing-here"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not a Maildir", p.stderr)

    def test_refuses_what_is_not_a_maildir(self):
        home = self.user.home
        path = os.path.join(home, "somefile")
        with open(path, "w") as f:
            f.write("keep me\n")
        os.chown(path, self.user.uid, self.user.gid)
        p = self.make(path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not a Maildir", p.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "keep me\n")
        full = os.path.join(home, "mbox-dir")
        os.mkdir(full)
        with open(os.path.join(full, "inbox"), "w") as f:
            f.write("From x\n")
        os.chown(full, self.user.uid, self.user.gid)
        p = self.make(full)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(os.listdir(full), ["inbox"])
        # An empty directory becomes a Maildir.
        empty = os.path.join(home, "empty")
        os.mkdir(empty)
        os.chown(empty, self.user.uid, self.user.gid)
        p = self.make(empty)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_maildir(empty)
        self.assertFalse([n for n in os.listdir(home) if "maildirmake-" in n], "no temporary left behind")


if __name__ == "__main__":
    unittest.main()
