"""pop3d over TLS and its login policy: real tcpserver, real tlsd in front
of pop3d (STLS on a 110-like port, implicit TLS on a 995-like one),
clients openssl s_client, curl, Python's poplib, fetchmail, and raw
sockets for plaintext injection. A client "from another host" is pop3d
run with TCPREMOTEIP set to a documentation address (192.0.2.7) by env(1)
between tcpserver (or tlsd) and pop3d, as tcp-env does under inetd: the
bytes still travel over loopback, so the test stays on this host."""
import base64
import os
import poplib
import socket
import ssl
import subprocess
import time
import unittest

from tls_clients import (REMOTE_IP, Raw, curl_resolve, remote_server, run_boot_file, stop_boot_file,
                         process_users, read_key_as)
from harness import IS_ROOT, Instance, ServerTestCase, TcpServer, TlsServer, make_env

def plain(authz, authc, pw):
    return base64.b64encode(f"{authz}\0{authc}\0{pw}".encode()).decode()


class Pop3dLoginPolicy(ServerTestCase):
    """Plaintext connections, no tlsd: who may log in, and AUTH PLAIN."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("tpalice")
        cls.password = "alice-pw"
        inst.set_password(cls.alice, cls.password)
        cls.server = TcpServer(inst, "pop3d")         # loopback: 127.0.0.1
        cls.remote = remote_server(inst, "pop3d")               # "from" 192.0.2.7

    @classmethod
    def tearDownClass(cls):
        cls.remote.stop()
        super().tearDownClass()

    def test_remote_plaintext_client_is_refused_and_told_why(self):
        r = Raw(self.remote.port)
        self.assertTrue(r.line().startswith("+OK"))
        r.send("CAPA\r\n")
        capa = r.multiline()
        self.assertNotIn("USER\r\n", capa)
        self.assertNotIn("SASL PLAIN\r\n", capa)
        self.assertNotIn("STLS\r\n", capa)  # no tlsd in front: nothing to offer
        r.send(f"USER {self.alice.name}\r\n")
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] Plaintext authentication is disabled")
        r.send(f"PASS {self.password}\r\n")
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] ")
        r.send(f"APOP {self.alice.name} {'0' * 32}\r\n")
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] ")
        r.send(f"AUTH PLAIN {plain('', self.alice.name, self.password)}\r\n")
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] ")
        r.send("AUTH\r\n")  # no mechanism offered
        self.assertEqual(r.multiline(), ["+OK methods follow\r\n", ".\r\n"])
        r.send("STAT\r\n")
        self.assertRegex(r.line(), r"^-ERR ")
        r.close()
        log = self.remote.log()
        for verb in ("USER", "PASS", "APOP", "AUTH"):
            self.assertIn(f"client {REMOTE_IP}: {verb} refused: no TLS", log)
        self.assertNotIn("login failed", log)  # never reached checkpassword

    def test_plaintextlogin_control_file_allows_remote_logins(self):
        self.inst.control("plaintextlogin", "1")
        try:
            c = poplib.POP3("127.0.0.1", self.remote.port, timeout=30)
            self.assertIn("USER", c.capa())
            c.user(self.alice.name)
            c.pass_(self.password)
            self.assertEqual(c.stat()[0], 0)
            c.quit()
        finally:
            os.unlink(os.path.join(self.inst.home, "control", "plaintextlogin"))

    def test_loopback_client_may_log_in_in_clear(self):
        c = poplib.POP3("127.0.0.1", self.server.port, timeout=30)
        caps = c.capa()
        self.assertIn("USER", caps)
        self.assertIn("SASL", caps)
        c.user(self.alice.name)
        c.pass_(self.password)
        c.quit()

    def test_auth_plain_initial_response_continuation_cancel(self):
        r = Raw(self.server.port)
        r.line()
        r.send("AUTH PLAIN\r\n")
        self.assertEqual(r.line(), "+ \r\n")
        r.send("*\r\n")
        self.assertRegex(r.line(), r"^-ERR authentication cancelled")
        r.send("AUTH PLAIN =\r\n")  # an empty initial response (RFC 5034)
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] malformed")
        r.send(f"AUTH PLAIN {plain('root', self.alice.name, self.password)}\r\n")
        self.assertRegex(r.line(), r"^-ERR \[AUTH\] no authorization as another user")
        r.send(f"AUTH PLAIN {plain(self.alice.name, self.alice.name, self.password)}\r\n")
        self.assertRegex(r.line(), r"^\+OK")
        r.send("QUIT\r\n")
        r.close()


@unittest.skipUnless(IS_ROOT, "needs root: tlsd drops to posternt, pop3d to posternd")
class Pop3dTls(ServerTestCase):
    """tlsd in front of pop3d, for a client from another host (192.0.2.7)."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("tsalice")
        cls.password = "alice-tls-pw"
        inst.set_password(cls.alice, cls.password)
        path = os.path.join(cls.alice.maildir, "new", "1700000000.M1P1.test")
        with open(path, "w") as f:
            f.write("From: a@example.org\nSubject: over tls\n\nsecret body\n")
        os.chown(path, cls.alice.uid, cls.alice.gid)
        cls.ca = inst.make_certificate()
        cls.server = remote_server(inst, "pop3d", "starttls")   # 110
        cls.implicit = remote_server(inst, "pop3d", "implicit")  # 995
        cls.local = TlsServer(inst, "pop3d")            # a client on this host, STLS offered

    @classmethod
    def tearDownClass(cls):
        cls.implicit.stop()
        cls.local.stop()
        super().tearDownClass()

    def ctx(self):
        return ssl.create_default_context(cafile=self.ca)

    def test_poplib_stls_then_login(self):
        c = poplib.POP3("localhost", self.server.port, timeout=30)
        caps = c.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        c.stls(context=self.ctx())
        caps = c.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        self.assertEqual(caps.get("SASL"), ["PLAIN"])
        c.user(self.alice.name)
        c.pass_(self.password)
        self.assertEqual(c.stat()[0], 1)
        self.assertIn(b"secret body", b"\n".join(c.retr(1)[1]))
        c.quit()
        self.assertRegex(self.server.log(), rf"pop3d: client {REMOTE_IP}: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)")

    def test_pop3_ssl_on_the_implicit_port(self):
        c = poplib.POP3_SSL("localhost", self.implicit.port, timeout=30, context=self.ctx())
        self.assertTrue(c.getwelcome().startswith(b"+OK"))
        caps = c.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        c.user(self.alice.name)
        c.pass_(self.password)
        self.assertIn(b"secret body", b"\n".join(c.retr(1)[1]))
        c.quit()

    def test_implicit_port_says_nothing_before_the_handshake(self):
        s = socket.create_connection(("127.0.0.1", self.implicit.port), timeout=2)
        with self.assertRaises(socket.timeout):
            s.recv(100)
        s.settimeout(30)
        t = self.ctx().wrap_socket(s, server_hostname="localhost")
        self.assertTrue(t.recv(100).startswith(b"+OK"))
        t.close()

    def test_openssl_s_client_starttls_pop3(self):
        # One command at a time: pop3d offers no PIPELINING.
        p = subprocess.Popen(
            ["openssl", "s_client", "-starttls", "pop3", "-connect", f"127.0.0.1:{self.server.port}",
             "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile", self.ca,
             "-verify_return_error", "-crlf", "-quiet", "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            answers = []
            for cmd in (f"USER {self.alice.name}", f"PASS {self.password}", "STAT", "QUIT"):
                p.stdin.write(cmd.encode() + b"\n")
                p.stdin.flush()
                answers.append(p.stdout.readline().decode(errors="replace"))
            p.stdin.close()
            self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(answers[0], "+OK send PASS\r\n")
        self.assertTrue(answers[1].startswith("+OK"), answers)
        self.assertRegex(answers[2], r"^\+OK 1 \d+")

    def test_curl_ssl_reqd_and_pop3s(self):
        for url, port, extra in ((f"pop3://localhost:{self.server.port}/1", self.server.port, ["--ssl-reqd"]),
                                 (f"pop3s://localhost:{self.implicit.port}/1", self.implicit.port, [])):
            out = subprocess.run(["curl", "-sS", "--max-time", "60", "--cacert", self.ca, "-u",
                                  f"{self.alice.name}:{self.password}"] + extra + curl_resolve(port) + [url],
                                 capture_output=True, timeout=90)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(b"secret body", out.stdout)

    def fetchmail(self, ssl_line, port):
        out_file = os.path.join(self.inst.tmp, f"fetched-{port}")
        rc = os.path.join(self.inst.tmp, f"fetchmailrc-{port}")
        with open(rc, "w") as f:
            f.write(f'poll localhost service {port} protocol pop3 timeout 60\n'
                    f'  user "{self.alice.name}" password "{self.password}" keep\n'
                    f'  {ssl_line} sslcertck sslcertfile "{self.ca}"\n'
                    f'  mda "/bin/sh -c \'cat >> {out_file}\'"\n')
        os.chmod(rc, 0o600)
        env = make_env()
        env["HOME"] = self.inst.tmp
        out = subprocess.run(["fetchmail", "-f", rc, "--pidfile", rc + ".pid", "--nosyslog", "-a", "-v"],
                             capture_output=True, timeout=120, env=env)
        log = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
        self.assertEqual(out.returncode, 0, log)
        with open(out_file, "rb") as f:
            self.assertIn(b"secret body", f.read())
        return log

    def test_fetchmail_with_stls_and_on_995(self):
        log = self.fetchmail("sslproto tls1.2+", self.server.port)  # STLS on the plain port
        self.assertIn("STLS", log)
        self.fetchmail("ssl", self.implicit.port)

    def test_stls_and_user_in_one_send_the_user_is_forgotten(self):
        r = Raw(self.server.port)
        r.line()
        r.send(f"STLS\r\nUSER {self.alice.name}\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation\r\n")
        r.starttls(self.ca)  # fails if USER was answered in clear
        r.send("CAPA\r\n")
        capa = r.multiline()  # the first reply over TLS is CAPA's
        self.assertEqual(capa[0], "+OK capability list follows\r\n")
        self.assertNotIn("STLS\r\n", capa)
        r.send(f"PASS {self.password}\r\n")
        self.assertEqual(r.line(), "-ERR send USER first\r\n")
        r.send("STLS\r\n")
        self.assertEqual(r.line(), "-ERR TLS is already on\r\n")
        r.close()

    def test_a_user_given_before_stls_is_forgotten(self):
        # RFC 2595 4: the session starts over after the handshake.
        r = Raw(self.local.port)
        r.line()
        r.send(f"USER {self.alice.name}\r\n")
        self.assertEqual(r.line(), "+OK send PASS\r\n")  # loopback: allowed in clear
        r.send("STLS\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation\r\n")
        r.starttls(self.ca)
        r.send(f"PASS {self.password}\r\n")
        self.assertEqual(r.line(), "-ERR send USER first\r\n")
        r.close()

    def test_plaintext_sent_during_the_handshake_is_never_answered(self):
        r = Raw(self.server.port)
        r.line()
        r.send("STLS\r\n")
        time.sleep(0.5)  # the go-ahead is on its way: tlsd is starting the handshake
        r.send(f"USER {self.alice.name}\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation\r\n")
        try:
            r.starttls(self.ca)
        except (ssl.SSLError, OSError, EOFError):
            return  # tlsd took the bytes for a broken handshake: nothing was answered
        r.send(f"PASS {self.password}\r\n")
        self.assertEqual(r.line(), "-ERR send USER first\r\n")
        r.close()

    def test_boot_run_files_for_110_and_995(self):
        for name in ("pop3d", "pop3s"):
            proc, port = run_boot_file(self.inst, name)
            try:
                if name == "pop3s":
                    c = poplib.POP3_SSL("localhost", port, timeout=30, context=self.ctx())
                else:
                    c = poplib.POP3("localhost", port, timeout=30)
                    self.assertIn("STLS", c.capa())
                    c.stls(context=self.ctx())
                c.user(self.alice.name)
                c.pass_(self.password)
                self.assertEqual(c.stat()[0], 1)
                c.quit()
            finally:
                stop_boot_file(proc)

    def test_stages_users_and_the_key_out_of_reach(self):
        r = Raw(self.server.port)
        r.line()
        r.send("STLS\r\n")
        r.line()
        r.starttls(self.ca)
        r.send("CAPA\r\n")
        r.multiline()
        users = process_users(self.inst)
        r.close()
        self.assertIn("posternd", users.get("pop3d", set()))  # the pre-auth stage
        self.assertEqual(users.get("pop3d", set()) - {"root", "posternd"}, set())
        self.assertIn("posternt", users.get("tlsd", set()))
        out = read_key_as(self.inst, "posternd")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"Permission denied", out.stderr)
        self.assertNotIn(b"PRIVATE KEY", out.stdout)
