"""make run's instance has smtpd on a loopback port: mail sent there to
the demo user lands in its Maildir, and make stop stops it."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import unittest

from harness import SRC, make_env, maildir_files, read_message, wait_for, san_args


class MakeRunSmtpd(unittest.TestCase):
    def test_smtp_to_demo_and_stop(self):
        tmp = tempfile.mkdtemp(prefix="postern-run-")
        home = os.path.join(tmp, "run")
        env = make_env()
        script = os.path.join(SRC, "tools", "run-instance")
        try:
            out = subprocess.run(["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={home}", "SINGLE=1",
                                  f"ALIASES={tmp}/aliases", "setup"] + san_args(), capture_output=True, text=True, timeout=600, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            started = subprocess.run([script, "start", home], capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(started.returncode, 0, started.stderr)
            port = int(re.search(r"smtp:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, 10, "smtpd")
            # A burst of clients must not have its SYNs dropped: the listen
            # queue (ss shows it as Send-Q of a listening socket) is as
            # large as the connection limit, not tcpserver's default 20.
            listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True)
            self.assertGreaterEqual(int(listening.stdout.split()[2]), 200, listening.stdout)
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
                s.sendmail("someone@example.net", ["demo@localhost"], b"Subject: demo over smtp\r\n\r\nhi\r\n")
                s.mail("someone@example.net")
                self.assertEqual(s.rcpt("nobody-at-all@localhost")[0], 550)
            maildir = os.path.join(home, "home", "demo", "Maildir")
            files = wait_for(lambda: maildir_files(maildir), 20, "the demo user's mail")
            self.assertEqual(read_message(files[0])["Subject"], "demo over smtp")
            stopped = subprocess.run([script, "stop", home], capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(stopped.returncode, 0, stopped.stderr)

            def refused():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return False
                except OSError:
                    return True
            wait_for(refused, 10, "tcpserver to stop")
        finally:
            subprocess.run([script, "stop", home], capture_output=True, timeout=60)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
