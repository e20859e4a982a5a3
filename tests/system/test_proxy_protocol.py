"""smtpd, pop3d and imapd behind a real HAProxy (Debian's haproxy, started
on loopback by the test) that sends the PROXY protocol, versions 1 and 2,
to tcpserver running proxy-env (issue 17): the Received line, the logs
and the relay rules see the client HAProxy accepted, not HAProxy; a
connection from HAProxy's address without a header, or with a bad one, is
closed; a client connecting directly is its own.
Trusts: HAProxy, smtplib, poplib, imaplib. Returns: one result per
behaviour."""
import os
import shutil
import smtplib
import socket
import subprocess
import unittest

from harness import TcpServer, free_port, maildir_files, port_listening, wait_for
from smtp_helpers import daemon_ids, tcprules
from imap_raw import ImapTestCase

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def client_socket(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


@unittest.skipUnless(os.path.exists(HAPROXY), "needs haproxy (tools/deps)")
class BehindHaproxy(ImapTestCase):
    USER = "pxuser"
    PASSWORD = "Proxy-pw1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        inst = cls.inst
        inst.control("proxyfrom", "127.0.0.1")
        rules = os.path.join(inst.tmp, "smtp.cdb")
        tcprules(rules, "127.0.0.5:allow,RELAYCLIENT=\"\"\n:allow\n")
        uid, gid = daemon_ids(inst)
        opts = ["-u", str(uid), "-g", str(gid)] if inst.multi else []
        cls.smtpd = TcpServer(inst, [os.path.join(inst.bin, "proxy-env"), "-r", rules, os.path.join(inst.bin, "smtpd")],
                              options=opts)
        cls.imapd = TcpServer(inst, [os.path.join(inst.bin, "proxy-env"), os.path.join(inst.bin, "imapd")])
        cls.pop3d = TcpServer(inst, [os.path.join(inst.bin, "proxy-env"), os.path.join(inst.bin, "pop3d")])
        cls.ports = {k: free_port() for k in ("smtp1", "smtp2", "imap", "pop3")}
        conf = os.path.join(inst.tmp, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(f"""global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen smtp1
  bind 127.0.0.1:{cls.ports['smtp1']}
  server s 127.0.0.1:{cls.smtpd.port} send-proxy
listen smtp2
  bind 127.0.0.1:{cls.ports['smtp2']}
  server s 127.0.0.1:{cls.smtpd.port} send-proxy-v2
listen imap
  bind 127.0.0.1:{cls.ports['imap']}
  server s 127.0.0.1:{cls.imapd.port} send-proxy-v2
listen pop3
  bind 127.0.0.1:{cls.ports['pop3']}
  server s 127.0.0.1:{cls.pop3d.port} send-proxy
""")
        cls.hlog = open(os.path.join(inst.tmp, "haproxy.log"), "wb")
        cls.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", conf], stdout=cls.hlog, stderr=cls.hlog,
                                       start_new_session=True)
        for p in cls.ports.values():
            wait_for(lambda p=p: port_listening(p), 10, f"haproxy on {p}")

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.terminate()
        try:
            cls.haproxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.haproxy.kill()
        cls.hlog.close()
        for s in (cls.smtpd, cls.imapd, cls.pop3d):
            s.stop()
        super().tearDownClass()

    def send_via(self, port, source, rcpt, subject):
        s = smtplib.SMTP(timeout=30, source_address=(source, 0))
        s.connect("127.0.0.1", port)
        s.ehlo("client.example.org")
        s.mail("sender@example.org")
        code, _ = s.rcpt(rcpt)
        if code == 250:
            s.data(f"Subject: {subject}\r\n\r\nbody\r\n".encode())
        s.quit()
        return code

    def test_smtp_sees_the_client_through_both_versions(self):
        for version, port in (("v1", self.ports["smtp1"]), ("v2", self.ports["smtp2"])):
            before = len(maildir_files(self.user.maildir))
            self.assertEqual(self.send_via(port, "127.0.0.6", self.user.address, version), 250)
            files = self.inst.wait_maildir(self.user.maildir, before + 1)
            with open(files[-1], "rb") as f:
                head = f.read(2000)
            self.assertIn(b"127.0.0.6", head, version)
            self.assertNotIn(b"[127.0.0.1]", head, version)

    def test_relay_rules_apply_to_the_client_not_the_proxy(self):
        # 127.0.0.5 may relay (its rule); 127.0.0.6 may not, though both come from HAProxy
        self.assertEqual(self.send_via(self.ports["smtp2"], "127.0.0.6", "x@elsewhere.example", "no"), 553)
        self.assertEqual(self.send_via(self.ports["smtp1"], "127.0.0.5", "x@elsewhere.example", "yes"), 250)

    def test_imap_and_pop3_log_the_client(self):
        s = client_socket(self.ports["imap"], "127.0.0.7")
        s.settimeout(30)
        f = s.makefile("rb")
        greeting = f.readline()
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        s.sendall(f"a LOGIN {self.user.name} {self.PASSWORD}\r\n".encode())
        while not (line := f.readline()).startswith(b"a "):
            pass
        self.assertTrue(line.startswith(b"a OK"), line)
        s.sendall(b"b LOGOUT\r\n")
        s.close()
        wait_for(lambda: f"{self.user.name} from 127.0.0.7: logged in" in self.imapd.log(), 10, "the imapd log line")
        p = client_socket(self.ports["pop3"], "127.0.0.8")
        p.settimeout(30)
        pf = p.makefile("rb")
        self.assertTrue(pf.readline().startswith(b"+OK"))
        for line in (f"USER {self.user.name}", f"PASS {self.PASSWORD}", "QUIT"):
            p.sendall(line.encode() + b"\r\n")
            answer = pf.readline()
            self.assertTrue(answer.startswith(b"+OK"), (line, answer))
        p.close()
        wait_for(lambda: "127.0.0.8" in self.pop3d.log(), 10, "the pop3d log line naming the client")

    def test_the_proxy_without_a_header_is_closed(self):
        # HAProxy's address, straight to tcpserver: no header, no service
        for junk in (b"EHLO x\r\n", b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n"):
            s = socket.create_connection(("127.0.0.1", self.smtpd.port), timeout=15)
            s.sendall(junk)
            try:
                got = s.recv(100)
            except ConnectionResetError:  # closed with our bytes unread
                got = b""
            self.assertEqual(got, b"", junk)
            s.close()
        wait_for(lambda: "a bad PROXY header from 127.0.0.1" in self.smtpd.log(), 10, "the log line")

    def test_a_client_of_its_own_is_left_alone(self):
        # not from a listed proxy: no header expected, its own address kept
        s = client_socket(self.smtpd.port, "127.0.0.9")
        s.settimeout(15)
        self.assertTrue(s.recv(100).startswith(b"220"))
        s.close()

