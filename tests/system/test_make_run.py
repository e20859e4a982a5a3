"""make run's instance: the script behind `make run`/`make stop` on a
single-user install in a temporary directory, used as the README says:
mail sent to the demo user lands in its Maildir and is read over POP3 and
IMAP on the ports the script prints, with the demo password, also over
TLS (imaps, pop3s) with the self-signed certificate it makes; submission
and smtps answer over TLS with AUTH (they need smtpd -s)."""
import imaplib
import os
import poplib
import re
import socket
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import unittest

from harness import SRC, make_env, maildir_files, read_message, wait_for, san_args


class MakeRun(unittest.TestCase):
    def start_run(self):
        """What make run does, in a temp dir: setup, then run-instance start.
        Returns (tmp, home, env, the start's CompletedProcess)."""
        tmp = tempfile.mkdtemp(prefix="postern-run-")
        home = os.path.join(tmp, "run")
        env = make_env()
        try:
            out = subprocess.run(["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={home}", "SINGLE=1",
                                  f"ALIASES={tmp}/aliases", "setup"] + san_args(), capture_output=True, text=True,
                                 timeout=600, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            started = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "start", home], capture_output=True,
                                     text=True, timeout=60, env=env)
            self.assertEqual(started.returncode, 0, started.stderr)
        except BaseException:
            self.stop_run(tmp, home)
            raise
        return tmp, home, env, started

    def stop_run(self, tmp, home):
        subprocess.run([os.path.join(SRC, "tools", "run-instance"), "stop", home], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)

    def test_run_send_to_demo_and_stop(self):
        tmp, home, env, started = self.start_run()
        try:
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
                self.assertRegex(f.read(), r"to=<demo@[^>]*> channel=local relay=local .* status=sent ")
            # POP3 and IMAP on the printed loopback ports, user demo, password demo.
            pop3_port = int(re.search(r"pop3:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            imap_port = int(re.search(r"imap:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            self.assertNotEqual(pop3_port, imap_port)
            self.assertIn(f"curl pop3://127.0.0.1:{pop3_port}/1 -u demo:demo", started.stdout)
            self.assertIn(f"imap://127.0.0.1:{imap_port}/INBOX", started.stdout)
            pop = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
            try:
                pop.user("demo")
                pop.pass_("demo")
                self.assertEqual(pop.stat()[0], 1)
                lines = pop.retr(1)[1]
                self.assertIn(b"Subject: hello demo", lines)
            finally:
                pop.quit()
            imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
            try:
                imap.login("demo", "demo")
                typ, data = imap.select("INBOX")
                self.assertEqual((typ, data[0]), ("OK", b"1"))
                typ, data = imap.fetch("1", "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertIn(b"Subject: hello demo", data[0][1])
                imap.logout()
            except Exception:
                imap.shutdown()
                raise
            # imaps and pop3s: implicit TLS through tlsd, trusting the
            # certificate make run made and printed.
            cert = os.path.join(home, "cert.pem")
            self.assertIn(f"the certificate is {cert}", started.stdout)
            ctx = ssl.create_default_context(cafile=cert)
            imaps_port = int(re.search(r"imaps:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            pop3s_port = int(re.search(r"pop3s:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            imap = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)
            try:
                self.assertIn(imap.sock.version(), ("TLSv1.2", "TLSv1.3"))
                imap.login("demo", "demo")
                self.assertEqual(imap.select("INBOX"), ("OK", [b"1"]))
                imap.logout()
            except Exception:
                imap.shutdown()
                raise
            pop = poplib.POP3_SSL("127.0.0.1", pop3s_port, context=ctx, timeout=20)
            try:
                pop.user("demo")
                pop.pass_("demo")
                self.assertEqual(pop.stat()[0], 1)
            finally:
                pop.quit()
            # Starting again keeps the ports and the password.
            again = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "start", home], capture_output=True,
                                   text=True, timeout=60, env=env)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn(f"port {pop3_port},", again.stdout)
            self.assertIn(f"port {imap_port},", again.stdout)
            stopped = subprocess.run([os.path.join(SRC, "tools", "run-instance"), "stop", home], capture_output=True,
                                     text=True, timeout=60, env=env)
            self.assertEqual(stopped.returncode, 0, stopped.stderr)
            self.assertIn("stopped", stopped.stdout)
            self.assertFalse(os.path.exists(os.path.join(home, "send.pid")))
            for name in ("pop3d", "imapd", "imaps", "pop3s", "smtps", "submission"):
                self.assertIn(f"{name} (tcpserver) in {home} stopped", stopped.stdout)
                self.assertFalse(os.path.exists(os.path.join(home, f"{name}.pid")))
            for port in (pop3_port, imap_port, imaps_port, pop3s_port):
                def refused():
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        return False
                    except OSError:
                        return True
                wait_for(refused, 10, f"port {port} to close")
        finally:
            self.stop_run(tmp, home)


    def test_submission_and_smtps_over_tls(self):
        """Needs smtpd -s (submission: AUTH over TLS only)."""
        tmp, home, env, started = self.start_run()
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(home, "cert.pem"))
            smtps_port = int(re.search(r"smtps:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            sub_port = int(re.search(r"submission:\s+127\.0\.0\.1 port (\d+)", started.stdout).group(1))
            with smtplib.SMTP_SSL("127.0.0.1", smtps_port, context=ctx, timeout=30) as s:
                self.assertEqual(s.ehlo()[0], 250)
                self.assertTrue(s.has_extn("auth"))
                s.login("demo", "demo")
            with smtplib.SMTP("127.0.0.1", sub_port, timeout=30) as s:
                s.ehlo()
                self.assertTrue(s.has_extn("starttls"))
                s.starttls(context=ctx)
                s.ehlo()
                self.assertTrue(s.has_extn("auth"))
                s.login("demo", "demo")
        finally:
            self.stop_run(tmp, home)


if __name__ == "__main__":
    unittest.main()
