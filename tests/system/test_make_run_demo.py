"""The README's promise about make run's demo user: a .qmail-list in
run/home/demo gives demo-list (here delivering to a second Maildir), by
sendmail and, after newrcpt, over SMTP too; done on the script behind make
run in a temporary directory, as test_make_run does."""
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import unittest

from harness import SRC, make_env, maildir_files, read_message, san_args, wait_for


class DemoList(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-run-")
        self.home = os.path.join(self.tmp, "run")
        self.env = make_env()
        out = subprocess.run(["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={self.home}", "SINGLE=1",
                              f"ALIASES={self.tmp}/aliases", "setup"] + san_args(), capture_output=True, text=True,
                             timeout=600, env=self.env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.started = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "start", self.home],
                                      capture_output=True, text=True, timeout=60, env=self.env)
        self.addCleanup(subprocess.run, [os.path.join(SRC, "tools", "run-instance"), "stop", self.home],
                        capture_output=True, timeout=60)
        self.assertEqual(self.started.returncode, 0, self.started.stderr)

    def test_qmail_list_gives_demo_list(self):
        demo = os.path.join(self.home, "home", "demo")
        box = os.path.join(demo, "list")
        for sub in ("", "/cur", "/new", "/tmp"):
            os.makedirs(box + sub, mode=0o700, exist_ok=True)
        with open(os.path.join(demo, ".qmail-list"), "w") as f:
            f.write("./list/\n")
        p = subprocess.run([os.path.join(self.home, "bin", "sendmail"), "demo-list"],
                           input=b"Subject: to the list\n\nhi\n", capture_output=True, timeout=30, env=self.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = wait_for(lambda: maildir_files(box), 30, "demo-list's mail in home/demo/list\n"
                         + open(os.path.join(self.home, "log", "current")).read()[-2000:])
        self.assertEqual(read_message(files[0])["Subject"], "to the list")

        # Over SMTP, once newrcpt has seen the file (README).
        r = subprocess.run([os.path.join(self.home, "bin", "newrcpt")], capture_output=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        port = int(re.search(r"127\.0\.0\.1 port (\d+) \(swaks", self.started.stdout).group(1))
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("someone@example.net", ["demo-list@localhost"], "Subject: over smtp\r\n\r\nhi\r\n")
        wait_for(lambda: len(maildir_files(box)) >= 2, 30, "the SMTP message in home/demo/list")


if __name__ == "__main__":
    unittest.main()
