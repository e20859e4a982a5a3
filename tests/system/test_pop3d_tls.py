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
import pwd
import re
import socket
import ssl
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, ServerTestCase, TcpServer, TlsServer, make_env, wait_for

REMOTE_IP = "192.0.2.7"


def remote_pop3d(inst, tls=None):
    """pop3d as seen by a client from 192.0.2.7: tcpserver [tlsd [-i]] env
    TCPREMOTEIP=192.0.2.7 pop3d."""
    argv = ["/usr/bin/env", f"TCPREMOTEIP={REMOTE_IP}", os.path.join(inst.bin, "pop3d")]
    if tls == "starttls":
        argv = [os.path.join(inst.bin, "tlsd")] + argv
    elif tls == "implicit":
        argv = [os.path.join(inst.bin, "tlsd"), "-i"] + argv
    return TcpServer(inst, argv)


class Raw:
    """A raw client: lines in and out, and a TLS upgrade in place."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace") + "\n"

    def multiline(self):
        lines = [self.line()]
        if lines[0].startswith("+OK"):
            while lines[-1] != ".\r\n":
                lines.append(self.line())
        return lines

    def starttls(self, cafile):
        assert self.buf == b"", self.buf
        ctx = ssl.create_default_context(cafile=cafile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def close(self):
        self.sock.close()


def plain(authz, authc, pw):
    return base64.b64encode(f"{authz}\0{authc}\0{pw}".encode()).decode()


class Pop3dLoginPolicy(ServerTestCase):
    """Plaintext connections, no tlsd: who may log in, and AUTH PLAIN."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("tpalice")
        cls.password = "alice-pw"
        if inst.multi:
            subprocess.run(["chpasswd"], input=f"{cls.alice.name}:{cls.password}\n".encode(), check=True)
        else:
            inst.run("mailauth", ["add", "-d", cls.alice.home, cls.alice.name], f"{cls.password}\n".encode())
        cls.server = TcpServer(inst, "pop3d")         # loopback: 127.0.0.1
        cls.remote = remote_pop3d(inst)               # "from" 192.0.2.7

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


def curl_resolve(port):
    return ["--resolve", f"localhost:{port}:127.0.0.1"]


def run_boot_file(inst, name):
    """conf-home/boot/NAME-tcpserver.run as daemontools runs it, on
    127.0.0.1 and a free port; returns (process, port)."""
    from harness import free_port
    port = free_port()
    env = make_env()
    env.update(IP="127.0.0.1", PORT=str(port))
    log = open(os.path.join(inst.tmp, f"{name}-run.log"), "ab")
    proc = subprocess.Popen(["sh", os.path.join(inst.home, "boot", f"{name}-tcpserver.run")], stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd="/")
    log.close()

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, 20, f"{name}-tcpserver.run to listen")
    return proc, port


def stop_boot_file(proc):
    import signal
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    proc.wait(timeout=20)


@unittest.skipUnless(IS_ROOT, "needs root: tlsd drops to posternt, pop3d to posternd")
class Pop3dTls(ServerTestCase):
    """tlsd in front of pop3d, for a client from another host (192.0.2.7)."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("tsalice")
        cls.password = "alice-tls-pw"
        subprocess.run(["chpasswd"], input=f"{cls.alice.name}:{cls.password}\n".encode(), check=True)
        path = os.path.join(cls.alice.maildir, "new", "1700000000.M1P1.test")
        with open(path, "w") as f:
            f.write("From: a@example.org\nSubject: over tls\n\nsecret body\n")
        os.chown(path, cls.alice.uid, cls.alice.gid)
        cls.ca = inst.make_certificate()
        cls.server = remote_pop3d(inst, "starttls")   # 110
        cls.implicit = remote_pop3d(inst, "implicit")  # 995
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
        users = {}
        for d in os.listdir("/proc"):
            try:
                exe = os.readlink(f"/proc/{d}/exe")
                with open(f"/proc/{d}/status") as f:
                    uid = int(re.search(r"Uid:\s+(\d+)", f.read()).group(1))
            except (OSError, ValueError):
                continue
            if os.path.dirname(exe) == self.inst.bin:  # this instance's, not another test's
                users.setdefault(os.path.basename(exe), set()).add(pwd.getpwuid(uid).pw_name)
        r.close()
        self.assertIn("posternd", users.get("pop3d", set()))  # the pre-auth stage
        self.assertEqual(users.get("pop3d", set()) - {"root", "posternd"}, set())
        self.assertIn("posternt", users.get("tlsd", set()))
        key = os.path.join(self.inst.home, "control", "tls", "default.pem")
        pw = pwd.getpwnam("posternd")
        out = subprocess.run(["cat", key], capture_output=True, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                             timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"Permission denied", out.stderr)
        self.assertNotIn(b"PRIVATE KEY", out.stdout)
