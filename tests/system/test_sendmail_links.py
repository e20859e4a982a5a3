"""make sendmail-links: the places programs look for sendmail point at
postern's, and the files replaced are kept as *.orig. Run against a
scratch root, so the machine's own /usr/sbin/sendmail is not touched."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SRC, Instance, maildir_files, read_message, remove_test_users


class SendmailLinks(unittest.TestCase):
    def test_links_replace_and_keep_orig_and_work(self):
        inst = Instance()
        root = tempfile.mkdtemp(prefix="postern-root-")
        try:
            os.makedirs(os.path.join(root, "usr/sbin"))
            with open(os.path.join(root, "usr/sbin/sendmail"), "w") as f:
                f.write("the old sendmail\n")
            tool = os.path.join(SRC, "tools", "sendmail-links")
            for _ in range(2):  # a second run changes nothing
                p = subprocess.run([tool, inst.home, root], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
            for path, target in (("usr/sbin/sendmail", "sendmail"), ("usr/lib/sendmail", "sendmail"),
                                 ("usr/bin/mailq", "mailq"), ("usr/bin/newaliases", "newaliases")):
                self.assertEqual(os.readlink(os.path.join(root, path)), os.path.join(inst.bin, target))
            with open(os.path.join(root, "usr/sbin/sendmail.orig")) as f:
                self.assertEqual(f.read(), "the old sendmail\n")
            # Mail sent through the link is delivered.
            user = inst.add_user("linky")
            inst.start()
            p = subprocess.run([os.path.join(root, "usr/lib/sendmail"), "-oi", user.address],
                               input=b"Subject: through the link\n\nx\n", capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            files = inst.wait_maildir(user.maildir, 1)
            self.assertEqual(read_message(files[-1])["Subject"], "through the link")
        finally:
            inst.cleanup()
            remove_test_users()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
