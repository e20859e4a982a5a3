"""make run's instance: the script behind `make run`/`make stop` on a
single-user install in a temporary directory, used as the README says."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SRC, make_env, maildir_files, read_message, wait_for


class MakeRun(unittest.TestCase):
    def test_run_send_to_demo_and_stop(self):
        tmp = tempfile.mkdtemp(prefix="postern-run-")
        home = os.path.join(tmp, "run")
        env = make_env()
        try:
            out = subprocess.run(["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={home}", "SINGLE=1",
                                  f"ALIASES={tmp}/aliases", "setup"], capture_output=True, text=True, timeout=600, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            started = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "start", home], capture_output=True,
                                     text=True, timeout=60, env=env)
            self.assertEqual(started.returncode, 0, started.stderr)
            # It tells the user where the log is and how to send to the demo user.
            self.assertIn(os.path.join(home, "log", "current"), started.stdout)
            self.assertIn("sendmail demo", started.stdout)
            self.assertIn(os.path.join(home, "home", "demo", "Maildir", "new"), started.stdout)
            p = subprocess.run([os.path.join(home, "bin", "sendmail"), "demo"], input=b"Subject: hello demo\n\nhi\n",
                               capture_output=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            maildir = os.path.join(home, "home", "demo", "Maildir")
            files = wait_for(lambda: maildir_files(maildir), 20, "the demo user's mail")
            self.assertEqual(read_message(files[0])["Subject"], "hello demo")
            with open(os.path.join(home, "log", "current")) as f:
                self.assertIn("success", f.read())
            stopped = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "stop", home], capture_output=True,
                                     text=True, timeout=60, env=env)
            self.assertEqual(stopped.returncode, 0, stopped.stderr)
            self.assertIn("stopped", stopped.stdout)
            self.assertFalse(os.path.exists(os.path.join(home, "send.pid")))
        finally:
            subprocess.run([os.path.join(SRC, "tools", "run-instance"), "stop", home], capture_output=True, timeout=60)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
