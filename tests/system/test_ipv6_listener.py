"""An IPv6 listener as INSTALL describes it: the shipped smtpd@.service
command line (tcp-env, tlsd, smtpd) run for each connection accepted on
[::1] by systemd-socket-activate, which is what smtpd.socket with
ListenStream=[::]:25 does under systemd, without touching the host's
systemd or its ucspi-tcp. A client on ::1 sends a message with smtplib:
it is delivered, and the log and the Received: line name the IPv6 client."""
import os
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import unittest

from harness import IS_ROOT, Instance, free_port, make_env, read_message, remove_test_users, wait_for


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(IS_ROOT and shutil.which("systemd-socket-activate") and has_ipv6_loopback(),
                     "needs root (the unit runs as root for tlsd), systemd-socket-activate and ::1")
class Ipv6Listener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.bob = inst.add_user("bob")
        inst.start()
        with open(os.path.join(inst.home, "boot", "smtpd@.service")) as f:
            line = next(l for l in f if l.startswith("ExecStart="))
        argv = shlex.split(line[len("ExecStart="):].lstrip("-"))
        cls.port = free_port()
        cls.logfile = os.path.join(inst.tmp, "smtpd6.log")
        with open(cls.logfile, "wb") as log:
            cls.proc = subprocess.Popen(["systemd-socket-activate", "--accept", "--inetd", "-l",
                                         f"[::1]:{cls.port}"] + argv,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                        start_new_session=True, env=make_env(), cwd="/")

        def listening():
            try:
                socket.create_connection(("::1", cls.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 20, "systemd-socket-activate on [::1]")

    @classmethod
    def tearDownClass(cls):
        try:
            os.killpg(cls.proc.pid, signal.SIGTERM)
            cls.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(cls.proc.pid, signal.SIGKILL)
            cls.proc.wait()
        cls.inst.cleanup()
        remove_test_users()

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def test_mail_over_ipv6_is_delivered_and_names_the_client(self):
        with smtplib.SMTP("::1", self.port, timeout=60) as s:
            code, banner = s.ehlo("client.example")
            self.assertEqual(code, 250, banner)
            s.sendmail("alice@example.org", [self.bob.address], "From: alice@example.org\r\nSubject: over v6\r\n\r\nhi\r\n")
        path = self.inst.wait_maildir(self.bob.maildir)[-1]
        msg = read_message(path)
        self.assertEqual(msg["Subject"], "over v6")
        received = " ".join(msg.get_all("Received"))
        self.assertIn("::1", received, received)
        wait_for(lambda: "accepted" in self.log(), 20, "smtpd's accepted line\n" + self.log())
        self.assertRegex(self.log(), r"accepted client=\S*::1")


if __name__ == "__main__":
    unittest.main()
