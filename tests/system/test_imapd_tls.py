"""imapd over TLS and its login policy: real tcpserver, real tlsd in front
of imapd (STARTTLS on a 143-like port, implicit TLS on a 993-like one),
clients openssl s_client, curl, Python's imaplib, mutt, and raw sockets
for plaintext injection. A client "from another host" is imapd run with
TCPREMOTEIP set to a documentation address (192.0.2.7) by env(1) between
tcpserver (or tlsd) and imapd, as tcp-env does under inetd: the bytes
still travel over loopback, so the test stays on this host."""
import os
import ssl
import subprocess
import time
import imaplib
import unittest

from tls_clients import (REMOTE_IP, curl_resolve, remote_server, run_boot_file, stop_boot_file,
                         process_users, read_key_as)
from harness import IS_ROOT, make_env, wait_for
from imap_raw import ImapTestCase, mailbox_pids, tls_context

MESSAGE = "From: a@example.org\nTo: b@example.org\nSubject: over tls\n\nsecret body\n"


class ImapdLoginPolicy(ImapTestCase):
    """Plaintext connections, no tlsd: who may log in, and AUTHENTICATE.
    cls.server is on loopback (127.0.0.1), cls.remote "from" 192.0.2.7."""
    USER = "tialice"
    START = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice, cls.password = cls.user, cls.PASSWORD
        cls.remote = remote_server(cls.inst, "imapd")

    @classmethod
    def tearDownClass(cls):
        cls.remote.stop()
        super().tearDownClass()

    def plain(self, authz, authc, pw):
        import base64
        return base64.b64encode(f"{authz}\0{authc}\0{pw}".encode()).decode()

    def test_remote_plaintext_client_sees_logindisabled_and_is_refused(self):
        c = imaplib.IMAP4("127.0.0.1", self.remote.port, timeout=30)
        self.assertIn(b"LOGINDISABLED", c.welcome)
        self.assertNotIn(b"AUTH=PLAIN", c.welcome)
        self.assertNotIn(b"STARTTLS", c.welcome)  # no tlsd in front: nothing to offer
        typ, data = c.capability()
        self.assertIn(b"LOGINDISABLED", data[0])
        r = self.connect(self.remote.port)
        r.send(f"a LOGIN {self.alice.name} {self.password}\r\n")
        self.assertRegex(r.line(), r"^a NO \[PRIVACYREQUIRED\] ")
        r.send(f"b AUTHENTICATE PLAIN {self.plain('', self.alice.name, self.password)}\r\n")
        self.assertRegex(r.line(), r"^b NO \[PRIVACYREQUIRED\] ")
        r.send("c AUTHENTICATE PLAIN\r\n")  # refused before any continuation
        self.assertRegex(r.line(), r"^c NO \[PRIVACYREQUIRED\] ")
        r.send("d SELECT INBOX\r\n")
        self.assertRegex(r.line(), r"^d BAD Log in first")
        r.close()
        c.logout()
        self.assertIn(f"client {REMOTE_IP}: LOGIN refused: no TLS", self.remote.log())
        self.assertNotIn("login failed", self.remote.log())  # never reached checkpassword

    def test_plaintextlogin_control_file_allows_remote_logins(self):
        self.inst.control("plaintextlogin", "1")
        try:
            c = imaplib.IMAP4("127.0.0.1", self.remote.port, timeout=30)
            self.assertIn(b"AUTH=PLAIN", c.welcome)
            self.assertNotIn(b"LOGINDISABLED", c.welcome)
            typ, _ = c.login(self.alice.name, self.password)
            self.assertEqual(typ, "OK")
            c.logout()
        finally:
            os.unlink(os.path.join(self.inst.home, "control", "plaintextlogin"))

    def test_loopback_client_may_log_in_in_clear(self):
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=30)
        self.assertIn(b"AUTH=PLAIN", c.welcome)
        self.assertIn(b"SASL-IR", c.welcome)
        self.assertNotIn(b"LOGINDISABLED", c.welcome)
        typ, _ = c.login(self.alice.name, self.password)
        self.assertEqual(typ, "OK")
        c.logout()

    def test_authenticate_plain_with_and_without_initial_response(self):
        r = self.connect(self.server.port)
        r.send(f"a AUTHENTICATE PLAIN {self.plain('', self.alice.name, self.password)}\r\n")
        self.assertRegex(r.read_until(lambda l: l.startswith("a "))[-1], r"^a OK ")
        r.send("b LOGOUT\r\n")
        r.read_until(lambda l: l.startswith("b "))
        r.close()
        r = self.connect(self.server.port)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send(self.plain(self.alice.name, self.alice.name, self.password) + "\r\n")  # authzid = authcid
        self.assertRegex(r.read_until(lambda l: l.startswith("a "))[-1], r"^a OK ")
        r.close()

    def test_authenticate_cancel_malformed_and_other_user(self):
        r = self.connect(self.server.port)
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send("*\r\n")
        self.assertRegex(r.line(), r"^a BAD .*cancel")
        r.send("b AUTHENTICATE PLAIN =\r\n")  # an empty initial response
        self.assertRegex(r.line(), r"^b BAD Malformed")
        r.send("c AUTHENTICATE PLAIN !!!notbase64\r\n")
        self.assertRegex(r.line(), r"^c BAD ")
        r.send(f"d AUTHENTICATE PLAIN {self.plain('root', self.alice.name, self.password)}\r\n")
        self.assertRegex(r.line(), r"^d NO \[AUTHORIZATIONFAILED\]")
        r.send("e AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send("A" * 5000 + "\r\n")  # bounded: one error, and the rest is not a command
        self.assertRegex(r.line(), r"^e BAD ")
        r.send("f NOOP\r\n")
        self.assertRegex(r.line(), r"^f OK ")
        r.close()


@unittest.skipUnless(IS_ROOT, "needs root: tlsd drops to posternt, imapd to posternd")
class ImapdTls(ImapTestCase):
    """tlsd in front of imapd, for a client from another host (192.0.2.7)."""
    USER = "tjalice"
    PASSWORD = "alice-tls-pw"
    START = False

    @classmethod
    def make_server(cls):
        path = os.path.join(cls.user.maildir, "new", "1700000000.M1P1.test")
        with open(path, "w") as f:
            f.write(MESSAGE)
        os.chown(path, cls.user.uid, cls.user.gid)
        cls.alice, cls.password = cls.user, cls.PASSWORD
        cls.ca = cls.inst.make_certificate()
        cls.implicit = remote_server(cls.inst, "imapd", "implicit")  # 993
        return remote_server(cls.inst, "imapd", "starttls")          # 143

    @classmethod
    def tearDownClass(cls):
        cls.implicit.stop()
        super().tearDownClass()

    def ctx(self):
        return tls_context(self.ca)

    def test_imaplib_starttls_then_login(self):
        c = imaplib.IMAP4("localhost", self.server.port, timeout=30)
        self.assertIn(b"STARTTLS", c.welcome)
        self.assertIn(b"LOGINDISABLED", c.welcome)
        with self.assertRaisesRegex(imaplib.IMAP4.error, "PRIVACYREQUIRED"):
            c.login(self.alice.name, self.password)
        c.starttls(ssl_context=self.ctx())  # asks CAPABILITY again
        self.assertNotIn("STARTTLS", c.capabilities)
        self.assertNotIn("LOGINDISABLED", c.capabilities)
        self.assertIn("AUTH=PLAIN", c.capabilities)
        typ, _ = c.login(self.alice.name, self.password)
        self.assertEqual(typ, "OK")
        typ, data = c.select("INBOX")
        self.assertEqual(data, [b"1"])
        # tlsd's control descriptor stayed with the pre-auth stage: the
        # mailbox stage has the client, its log, and nothing else.
        pids = mailbox_pids(self.inst)
        self.assertTrue(pids)
        for pid in pids:
            self.assertEqual(sorted(os.listdir(f"/proc/{pid}/fd")), ["0", "1", "2"])
        typ, data = c.fetch("1", "(BODY.PEEK[TEXT])")
        self.assertIn(b"secret body", data[0][1])
        c.logout()
        self.assertRegex(self.server.log(), rf"imapd: client {REMOTE_IP}: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)")

    def test_imap4_ssl_on_the_implicit_port(self):
        c = imaplib.IMAP4_SSL("localhost", self.implicit.port, ssl_context=self.ctx(), timeout=30)
        self.assertNotIn(b"STARTTLS", c.welcome)
        self.assertNotIn(b"LOGINDISABLED", c.welcome)
        self.assertIn(b"AUTH=PLAIN", c.welcome)
        typ, _ = c.authenticate("PLAIN", lambda _: f"\0{self.alice.name}\0{self.password}".encode())
        self.assertEqual(typ, "OK")
        self.assertEqual(c.select("INBOX")[1], [b"1"])
        c.logout()

    def test_no_capabilities_pushed_after_starttls(self):
        r = self.connect(self.server.port)
        r.send("a STARTTLS\r\n")
        self.assertEqual(r.line(), "a OK Begin TLS negotiation now")
        r.wrap_tls(self.ctx())
        r.send("b NOOP\r\n")
        self.assertEqual(r.line(), "b OK NOOP completed")  # nothing untagged before it
        r.send("c CAPABILITY\r\n")
        caps = r.line()
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertIn("AUTH=PLAIN", caps)
        r.line()
        r.send("d STARTTLS\r\n")
        self.assertRegex(r.line(), r"^d BAD ")
        r.close()

    def test_starttls_and_login_in_one_send_the_login_is_never_answered(self):
        r = self.connect(self.server.port)
        r.send(f"a STARTTLS\r\nb LOGIN {self.alice.name} {self.password}\r\n")
        self.assertEqual(r.line(), "a OK Begin TLS negotiation now")
        r.wrap_tls(self.ctx())  # fails if b was answered in clear
        r.send("c SELECT INBOX\r\n")
        self.assertEqual(r.line(), "c BAD Log in first")  # b never logged in
        r.send("d LOGOUT\r\n")
        lines = r.read_until(lambda l: l.startswith("d "))
        self.assertFalse([l for l in lines if l.startswith("b ")], lines)
        r.close()

    def test_plaintext_sent_during_the_handshake_is_never_answered(self):
        r = self.connect(self.server.port)
        r.send("a STARTTLS\r\n")
        time.sleep(0.5)
        r.send(f"b LOGIN {self.alice.name} {self.password}\r\n")
        self.assertEqual(r.line(), "a OK Begin TLS negotiation now")
        try:
            r.wrap_tls(self.ctx())
        except (ssl.SSLError, OSError, EOFError):
            return  # tlsd took the bytes for a broken handshake: nothing was answered
        r.send("c SELECT INBOX\r\n")
        self.assertEqual(r.line(), "c BAD Log in first")
        r.close()

    def test_openssl_s_client_starttls_imap(self):
        # One command at a time: a LOGIN with commands after it is refused.
        p = subprocess.Popen(
            ["openssl", "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{self.server.port}",
             "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile", self.ca,
             "-verify_return_error", "-crlf", "-quiet", "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            lines = []
            for tag, cmd in (("a", f"LOGIN {self.alice.name} {self.password}"), ("b", "SELECT INBOX"),
                             ("c", "LOGOUT")):
                p.stdin.write(f"{tag} {cmd}\n".encode())
                p.stdin.flush()
                while True:
                    lines.append(p.stdout.readline().decode(errors="replace"))
                    if lines[-1].startswith(tag + " ") or not lines[-1]:
                        break
            p.stdin.close()
            self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        text = "".join(lines)
        self.assertRegex(text, r"(?m)^a OK ")
        self.assertRegex(text, r"(?m)^\* 1 EXISTS")
        self.assertRegex(text, r"(?m)^b OK ")

    def test_curl_ssl_reqd_and_imaps(self):
        for url, port, extra in (
                (f"imap://localhost:{self.server.port}/INBOX;MAILINDEX=1", self.server.port, ["--ssl-reqd"]),
                (f"imaps://localhost:{self.implicit.port}/INBOX;MAILINDEX=1", self.implicit.port, [])):
            out = subprocess.run(["curl", "-sS", "--max-time", "60", "--cacert", self.ca, "-u",
                                  f"{self.alice.name}:{self.password}"] + extra + curl_resolve(port) + [url],
                                 capture_output=True, timeout=90)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(b"secret body", out.stdout)

    def test_mutt_saves_a_sent_copy_over_imaps(self):
        # mutt in batch mode sends a message and stores its copy (record)
        # in the Sent folder over imaps://, checking the certificate.
        rc = os.path.join(self.inst.tmp, "muttrc")
        drop = os.path.join(self.inst.tmp, "drop-mail")
        with open(drop, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n")
        os.chmod(drop, 0o755)
        url = f"imaps://{self.alice.name}@localhost:{self.implicit.port}"
        with open(rc, "w") as f:
            f.write(f'set ssl_ca_certificates_file="{self.ca}"\n'
                    f'set imap_user="{self.alice.name}"\nset imap_pass="{self.password}"\n'
                    f'set record="{url}/Sent"\nset sendmail="{drop}"\nset copy=yes\n'
                    f'set from="{self.alice.name}@example.org"\nset ssl_force_tls=yes\n'
                    f'set certificate_file="{self.inst.tmp}/mutt-certs"\nset header_cache=""\n')
        env = make_env()
        env["HOME"] = self.inst.tmp
        env["TERM"] = "dumb"
        out = subprocess.run(["mutt", "-n", "-F", rc, "-s", "sent over tls", "bob@example.org"],
                             input=b"a body mutt sent\n", capture_output=True, timeout=120, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        sent = os.path.join(self.alice.maildir, ".Sent")
        found = wait_for(lambda: [p for sub in ("cur", "new") for p in
                                  (os.path.join(sent, sub, n) for n in os.listdir(os.path.join(sent, sub)))
                                  if b"a body mutt sent" in open(p, "rb").read()], 30, "mutt's copy in Sent")
        self.assertTrue(found)

    def test_boot_run_files_for_143_and_993(self):
        for name in ("imapd", "imaps"):
            proc, port = run_boot_file(self.inst, name)
            try:
                if name == "imaps":
                    c = imaplib.IMAP4_SSL("localhost", port, ssl_context=self.ctx(), timeout=30)
                else:
                    c = imaplib.IMAP4("localhost", port, timeout=30)
                    self.assertIn(b"STARTTLS", c.welcome)
                    c.starttls(ssl_context=self.ctx())
                self.assertEqual(c.login(self.alice.name, self.password)[0], "OK")
                c.logout()
            finally:
                stop_boot_file(proc)

    def test_stages_users_and_the_key_out_of_reach(self):
        r = self.connect(self.server.port)
        r.send("a STARTTLS\r\n")
        r.line()
        r.wrap_tls(self.ctx())
        r.send("b NOOP\r\n")
        r.line()
        users = process_users(self.inst)
        r.close()
        self.assertIn("posternd", users.get("imapd", set()))  # the pre-auth stage
        self.assertEqual(users.get("imapd", set()) - {"root", "posternd"}, set())
        self.assertIn("posternt", users.get("tlsd", set()))
        out = read_key_as(self.inst, "posternd")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"Permission denied", out.stderr)
