"""tlsd: implicit TLS and STARTTLS through a real tcpserver and tlsd to a
small line-protocol program (tls_lineprog.py) that uses TLSCTLFD as
smtpd, pop3d and imapd do; Python's ssl module is the client. Also: who
runs what (read from /proc), and what the program learns (the facts)."""
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, ServerTestCase, TlsServer, can_open_as, conf_user, remove_test_users, wait_for

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
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
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

    def test_plaintext_injected_after_starttls_is_dropped(self):
        """CVE-2011-0411: commands in the same packet as STARTTLS never
        reach the program as if they came over TLS."""
        c = Client(self.plain.port, self.trust)
        c.sock.sendall(b"STARTTLS\r\nECHO injected\r\nECHO injected too\r\n")
        self.assertEqual(c.line(), "+ go ahead")
        c.wrap()
        self.assertEqual(c.line(), "+ tls on")
        self.assertEqual(c.cmd("ECHO after"), "+ after")
        self.assertEqual(c.cmd("QUIT"), "+ bye")
        c.close()
        wait_for(lambda: "got QUIT" in self.plain.log(), 10, "the session's end")
        log = self.plain.log()
        self.assertIn("got ECHO after", log)
        self.assertNotIn("got ECHO injected", log)
        self.assertRegex(log, r"discarded [1-9][0-9]* bytes")

    def test_plaintext_during_the_handshake_is_never_a_command(self):
        """Plain bytes where the client's handshake should be: the
        handshake fails (or, had tlsd not yet stopped reading, the program
        drops them); either way the program never takes them."""
        failed = self.plain.log().count("TLS handshake failed")
        c = Client(self.plain.port, self.trust)
        self.assertEqual(c.cmd("STARTTLS"), "+ go ahead")
        c.sock.sendall(b"ECHO during\r\n")
        time.sleep(0.5)
        try:
            c.wrap()
            self.assertEqual(c.line(), "+ tls on")
            handshake = True
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            handshake = False
        c.close()
        if not handshake:
            wait_for(lambda: self.plain.log().count("TLS handshake failed") > failed, 10, "the failed handshake")
        time.sleep(0.5)
        self.assertNotIn("got ECHO during", self.plain.log())

    def test_a_program_that_does_not_read_holds_the_client_back(self):
        """Backpressure: while the program reads nothing, a client pushing
        data gets only a few buffers in, and tlsd's memory stays small."""
        c = Client(self.server.port, self.trust, implicit=True)
        c.sock.sendall(b"SLEEP 8\r\n")
        chunk = b"x" * 65536
        sent = 0
        c.sock.settimeout(3)
        try:
            while sent < 200 * 2**20:
                sent += c.sock.send(chunk)
        except (socket.timeout, ssl.SSLWantWriteError):
            pass
        procs = tlsd_processes(self.server)
        self.assertEqual(len(procs), 1, procs)
        with open(f"/proc/{procs[0][0]}/status") as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        peak_kb = int(status["VmHWM"].split()[0])
        print(f"\n    sent {sent // 1024} KB before the client blocked; tlsd's peak resident size {peak_kb} KB")
        self.assertLess(sent, 32 * 2**20)
        self.assertLess(peak_kb, 64 * 1024)
        c.close()

    def test_half_close_and_exit(self):
        """A client that sends its last command and closes its side still
        gets the answer; when the program ends, tlsd ends."""
        c = Client(self.plain.port, self.trust)
        c.sock.sendall(b"ECHO last words\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.line(), "+ last words")
        self.assertIsNone(c.line())
        c.close()
        wait_for(lambda: not tlsd_processes(self.plain), 10, "tlsd to exit")
        c = Client(self.server.port, self.trust, implicit=True)
        self.assertEqual(c.cmd("QUIT"), "+ bye")
        self.assertIsNone(c.line())
        c.close()
        wait_for(lambda: not tlsd_processes(self.server), 10, "tlsd to exit")

    def test_silent_client_is_dropped_after_the_handshake_timeout(self):
        """A client that connects to the implicit port and says nothing
        holds tlsd for the handshake timeout (control/timeouttlsdhandshake,
        60 s unless set), not for ever."""
        self.inst.control("timeouttlsdhandshake", "4")
        try:
            failed = self.server.log().count("TLS handshake failed with 127.0.0.1: timeout")
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=120)
            start = time.monotonic()
            self.assertEqual(s.recv(4096), b"")
            s.close()
            self.assertGreater(time.monotonic() - start, 3)
            # A malformed setting: logged, and no program is started.
            self.inst.control("timeouttlsdhandshake", "soon")
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
            self.assertEqual(s.recv(4096), b"")
            s.close()
            wait_for(lambda: "control/timeouttlsdhandshake: not a number" in self.server.log(), 10,
                     "the bad setting in the log")
        finally:
            os.unlink(os.path.join(self.inst.home, "control", "timeouttlsdhandshake"))
        wait_for(lambda: self.server.log().count("TLS handshake failed with 127.0.0.1: timeout") > failed, 10,
                 "the timeout in the log")

    def test_client_that_is_not_tls(self):
        """Plain text to the implicit port: a failed handshake, logged with
        the client's address; the program never greets."""
        failed = self.server.log().count("TLS handshake failed with 127.0.0.1")
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        s.sendall(b"ECHO hello\r\n")
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        self.assertNotIn(b"hello", data)
        s.close()
        wait_for(lambda: self.server.log().count("TLS handshake failed with 127.0.0.1") > failed, 10,
                 "the failed handshake in the log:\n" + self.server.log())
        self.assertNotIn("got ECHO hello", self.server.log())

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

    def test_only_tlsd_links_libssl(self):
        """The protocol parsers carry no TLS server code; tlsd does."""
        for prog in ("smtpd", "pop3d", "imapd", "pop3d-mailbox", "imapd-mailbox", "checkpassword"):
            out = subprocess.run(["ldd", os.path.join(self.inst.bin, prog)], capture_output=True, text=True).stdout
            self.assertIn("libc.so", out)
            self.assertNotIn("libssl", out, prog)
        out = subprocess.run(["ldd", os.path.join(self.inst.bin, "tlsd")], capture_output=True, text=True).stdout
        self.assertIn("libssl", out)

    @unittest.skipUnless(IS_ROOT, "users need root")
    def test_private_key_is_the_tls_users(self):
        """The protocol programs' user cannot even look into control/tls."""
        path = os.path.join(self.inst.home, "control", "tls", "default.pem")
        daemon = pwd.getpwnam(conf_user("daemon"))
        self.assertFalse(can_open_as(daemon.pw_uid, daemon.pw_gid, path))

if __name__ == "__main__":
    unittest.main()
