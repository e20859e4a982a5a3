"""smtpd under a real inetd (openbsd-inetd, in the foreground with -d)
through tcp-env, which sets tcpserver's variables and applies tcprules
databases; and tcp-env's environment on its own."""
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import unittest

from harness import Instance, make_env, remove_test_users, wait_for, IS_ROOT
from smtp_helpers import free_port, tcprules
from test_smtpd import newest
from harness import maildir_files


@unittest.skipUnless(shutil.which("inetd") or os.path.exists("/usr/sbin/inetd"), "openbsd-inetd is not installed")
class Inetd(unittest.TestCase):
    MULTI = None

    @classmethod
    def setUpClass(cls):
        inst = cls.inst = Instance(multi=cls.MULTI)
        cls.proc = None
        try:
            cls.alice = inst.add_user("alice")
            inst.start()
            user = "posternd:nofiles" if inst.multi else pwd.getpwuid(os.getuid()).pw_name
            relay = tcprules(os.path.join(inst.tmp, "relay.cdb"), '127.0.0.1:allow,RELAYCLIENT=""\n')
            deny = tcprules(os.path.join(inst.tmp, "deny.cdb"), "127.:deny\n")
            tcp_env, smtpd = os.path.join(inst.bin, "tcp-env"), os.path.join(inst.bin, "smtpd")
            cls.ports = {k: free_port() for k in ("plain", "relay", "deny", "env", "bare")}
            lines = [
                f"127.0.0.1:{cls.ports['plain']} stream tcp nowait {user} {tcp_env} tcp-env {smtpd}",
                f"127.0.0.1:{cls.ports['relay']} stream tcp nowait {user} {tcp_env} tcp-env -r {relay} {smtpd}",
                f"127.0.0.1:{cls.ports['deny']} stream tcp nowait {user} {tcp_env} tcp-env -r {deny} {smtpd}",
                f"127.0.0.1:{cls.ports['env']} stream tcp nowait {user} {tcp_env} tcp-env -H /usr/bin/env env",
                f"127.0.0.1:{cls.ports['bare']} stream tcp nowait {user} {smtpd} smtpd",
            ]
            conf = os.path.join(inst.tmp, "inetd.conf")
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            cls.log = open(os.path.join(inst.tmp, "inetd.log"), "ab")
            cls.proc = subprocess.Popen(["/usr/sbin/inetd", "-d", conf], stdout=cls.log, stderr=cls.log,
                                        start_new_session=True, env=make_env(), cwd="/")

            def up():
                try:
                    socket.create_connection(("127.0.0.1", cls.ports["env"]), timeout=1).close()
                    return True
                except OSError:
                    return False
            wait_for(up, 10, "inetd to listen")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.proc:
            os.killpg(cls.proc.pid, signal.SIGTERM)
            cls.proc.wait(timeout=10)
            cls.log.close()
        cls.inst.cleanup()
        remove_test_users()

    def smtp(self, which):
        return smtplib.SMTP("127.0.0.1", self.ports[which], local_hostname="inetd-client.example", timeout=20)

    def test_tcp_env_sets_tcpserver_variables(self):
        s = socket.create_connection(("127.0.0.1", self.ports["env"]), timeout=10)
        local_port = s.getsockname()[1]
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        env = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
        self.assertEqual(env["PROTO"], "TCP")
        self.assertEqual(env["TCPREMOTEIP"], "127.0.0.1")
        self.assertEqual(env["TCPREMOTEPORT"], str(local_port))
        self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
        self.assertEqual(env["TCPLOCALPORT"], str(self.ports["env"]))
        self.assertNotIn("TCPREMOTEHOST", env)  # -H

    def test_delivery_and_received_line(self):
        before = set(maildir_files(self.alice.maildir))
        with self.smtp("plain") as s:
            s.sendmail("i@example.net", [self.alice.address], b"Subject: via inetd\r\n\r\nx\r\n")
        _, msg = newest(self.inst, self.alice.maildir, before, "via inetd")
        received = " ".join(str(r) for r in msg.get_all("Received"))
        self.assertRegex(received, r"from inetd-client\.example \((\S+ )?\[127\.0\.0\.1\]\)")

    def test_relay_only_with_rules(self):
        for which, expected in (("plain", 553), ("relay", 250), ("bare", 553)):
            with self.smtp(which) as s:
                s.ehlo()
                s.mail("i@example.net")
                self.assertEqual(s.rcpt("far@remote.example")[0], expected, which)
                self.assertEqual(s.rcpt(self.alice.address)[0], 250, which)

    def test_deny_rule_closes(self):
        s = socket.create_connection(("127.0.0.1", self.ports["deny"]), timeout=10)
        self.assertEqual(s.recv(100), b"")


class InetdSingleUser(Inetd):
    MULTI = False


if __name__ == "__main__":
    unittest.main()
