"""tlsd: implicit TLS and STARTTLS through a real tcpserver and tlsd to a
small line-protocol program (tls_lineprog.py) that uses TLSCTLFD as
smtpd, pop3d and imapd do; Python's ssl module is the client. Also: who
runs what (read from /proc), and what the program learns (the facts)."""
import os
import pwd
import shutil
import socket
import ssl
import unittest

from harness import IS_ROOT, Instance, ServerTestCase, TlsServer, conf_user, remove_test_users, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def install_lineprog(inst):
    """The test program, where any user may run it."""
    path = os.path.join(inst.tmp, "lineprog")
    shutil.copy(os.path.join(HERE, "tls_lineprog.py"), path)
    os.chmod(path, 0o755)
    return path


class Client:
    """A line client: plain first, TLS when wrapped (implicit at once)."""

    def __init__(self, port, cafile=None, implicit=False, sni="localhost"):
        self.cafile, self.sni = cafile, sni
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.session = None
        if implicit:
            self.wrap()
        self.greeting = self.line()

    def context(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        return ctx

    def wrap(self, session=None, ctx=None):
        self.sock = (ctx or self.context()).wrap_socket(self.sock, server_hostname=self.sni, session=session)
        self.buf = b""

    buf = b""

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                rest, self.buf = self.buf, b""
                return rest.decode(errors="replace") if rest else None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def starttls(self, **kw):
        assert self.cmd("STARTTLS") == "+ go ahead"
        self.wrap(**kw)
        return self.line()

    def facts(self):
        reply = self.cmd("FACTS")
        assert reply.startswith("+ ok|"), reply
        return dict(kv.split("=", 1) for kv in reply[5:].split("|") if kv)

    def close(self):
        self.sock.close()


def tlsd_processes(server):
    """(pid, uids) of the tlsd parents tcpserver runs now."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if status["PPid"].strip() == str(server.proc.pid) and cmdline[0].endswith(b"/tlsd"):
            found.append((int(pid), [int(u) for u in status["Uid"].split()], [int(g) for g in status["Gid"].split()]))
    return found


class TlsdBasics(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.trust = cls.inst.make_certificate()
        prog = install_lineprog(cls.inst)
        cls.server = TlsServer(cls.inst, prog, implicit=True)
        cls.plain = TlsServer(cls.inst, prog)
        cls.as_daemon = TlsServer(cls.inst, prog, user=conf_user("daemon"))

    @classmethod
    def tearDownClass(cls):
        cls.plain.stop()
        cls.as_daemon.stop()
        super().tearDownClass()

    def test_implicit_tls(self):
        c = Client(self.server.port, self.trust, implicit=True)
        self.assertEqual(c.greeting, "+ hello mode=implicit ready=1 ctlfd=4")
        self.assertEqual(c.sock.version(), "TLSv1.3")
        self.assertEqual(c.cmd("ECHO over tls"), "+ over tls")
        facts = c.facts()
        self.assertEqual(facts["version"], "TLSv1.3")
        self.assertEqual(facts["cipher"], c.sock.cipher()[0])
        self.assertEqual(facts["bits"], str(c.sock.cipher()[2]))
        self.assertEqual(facts["sni"], "localhost")
        self.assertEqual(facts["resumed"], "no")
        self.assertNotIn("peer_subject", facts)
        self.assertEqual(c.cmd("QUIT"), "+ bye")
        self.assertIsNone(c.line())
        c.close()

    def test_starttls(self):
        c = Client(self.plain.port, self.trust)
        self.assertEqual(c.greeting, "+ hello mode=starttls ready=1 ctlfd=4")
        self.assertEqual(c.cmd("ECHO in plain"), "+ in plain")
        self.assertEqual(c.starttls(), "+ tls on")
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(c.cmd("ECHO over tls"), "+ over tls")
        self.assertEqual(c.facts()["version"], c.sock.version())
        # A second STARTTLS: tlsd answers "fail already"; this program
        # then ends the connection.
        self.assertEqual(c.cmd("STARTTLS"), "+ go ahead")
        self.assertIsNone(c.line())
        c.close()
        wait_for(lambda: "fail already" in self.plain.log(), 10, "the refused second STARTTLS in the log")

    def test_client_that_is_not_tls(self):
        """Plain text to the implicit port: a failed handshake, logged with
        the client's address; the program never greets."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        s.sendall(b"ECHO hello\r\n")
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        self.assertNotIn(b"hello", data)
        s.close()
        wait_for(lambda: "TLS handshake failed with 127.0.0.1" in self.server.log(), 10,
                 "the failed handshake in the log:\n" + self.server.log())
        self.assertNotIn("lineprog: got", self.server.log())

    @unittest.skipUnless(IS_ROOT, "users need root")
    def test_who_runs_what(self):
        c = Client(self.as_daemon.port, self.trust)
        daemon = pwd.getpwnam(conf_user("daemon"))
        reply = c.cmd("ID")
        self.assertIn(f"uid={daemon.pw_uid} gid={daemon.pw_gid} groups={daemon.pw_gid} ", reply)
        fds = reply.split("fds=")[1].split(",")
        # 0, 1, 2 and ctl on 4; never 3 (checkpassword's), nothing else.
        self.assertEqual(fds, ["0", "1", "2", "4"])
        tls = pwd.getpwnam(conf_user("tls"))
        procs = tlsd_processes(self.as_daemon)
        self.assertEqual(len(procs), 1, procs)
        _, uids, gids = procs[0]
        self.assertEqual(uids, [tls.pw_uid] * 4)
        self.assertEqual(gids, [tls.pw_gid] * 4)
        c.close()

    @unittest.skipUnless(IS_ROOT, "users need root")
    def test_private_key_is_the_tls_users(self):
        """The protocol programs' user cannot even look into control/tls."""
        path = os.path.join(self.inst.home, "control", "tls", "default.pem")
        daemon = pwd.getpwnam(conf_user("daemon"))
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(daemon.pw_gid)
                os.setuid(daemon.pw_uid)
                open(path).close()
                os._exit(0)
            except PermissionError:
                os._exit(13)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 13)


if __name__ == "__main__":
    unittest.main()
