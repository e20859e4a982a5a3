"""Submission (smtpd -s behind tlsd, RFC 6409) with SMTP AUTH: real
tcpserver, tlsd and checkpassword; clients are Python's smtplib as a mail
client uses it, swaks, curl and nodemailer (when Debian's node-nodemailer
is installed). What a user and an admin check: AUTH only after TLS, PLAIN
and LOGIN work, wrong passwords are refused slowly and logged, only the
login's own addresses may send, the delivered message says ESMTPSA with
the cipher and got its Date: and Message-ID:, and the stage that reads
the network is posternd, which cannot read the key."""
import base64
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import time
import unittest

from harness import Instance, ServerTestCase, conf_user, make_env, read_message, remove_test_users, wait_for
from smtp_helpers import Raw, parent_of, process_ids, processes_of, smtpd_tls_server, tls_context

PASSWORD = "s3cret pass"


class Submission(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("alice")
        cls.bob = inst.add_user("bob")
        inst.set_password(cls.alice, PASSWORD)
        cls.cafile = inst.make_certificate()
        inst.start()
        cls.server = smtpd_tls_server(inst, "587")
        cls.implicit = smtpd_tls_server(inst, "465")

    @classmethod
    def tearDownClass(cls):
        cls.implicit.stop()
        super().tearDownClass()

    def client(self):
        c = smtplib.SMTP("localhost", self.server.port, timeout=30)
        c.ehlo("client.example")
        return c

    def logged_in(self):
        c = self.client()
        c.starttls(context=tls_context(self.cafile))
        c.ehlo("client.example")
        c.login(self.alice.name, PASSWORD)
        return c

    def message(self, subject, sender=None, extra=""):
        return (f"From: Alice <{sender or self.alice.address}>\r\nTo: {self.bob.address}\r\n"
                f"Subject: {subject}\r\n{extra}\r\nhello\r\n")

    def delivered(self, subject):
        def find():
            for name in os.listdir(os.path.join(self.bob.maildir, "new")):
                m = read_message(os.path.join(self.bob.maildir, "new", name))
                if m["Subject"] == subject:
                    return m
            return None
        return wait_for(find, 30, f"{subject} in bob's Maildir\n" + self.inst.log()[-2000:])

    # -- AUTH only after TLS --------------------------------------------
    def test_auth_needs_tls_first(self):
        c = self.client()
        self.assertTrue(c.has_extn("starttls"))
        self.assertFalse(c.has_extn("auth"))
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{self.alice.name}\0{PASSWORD}".encode()).decode())
        self.assertEqual(code, 538, text)
        self.assertIn(b"5.7.11", text)
        code, text = c.docmd("MAIL", f"FROM:<{self.alice.address}>")
        self.assertEqual(code, 530, text)
        c.quit()

    def test_mail_needs_auth_after_tls(self):
        c = self.client()
        c.starttls(context=tls_context(self.cafile))
        c.ehlo("client.example")
        self.assertIn("PLAIN", c.esmtp_features["auth"].upper())
        self.assertIn("LOGIN", c.esmtp_features["auth"].upper())
        code, text = c.docmd("MAIL", f"FROM:<{self.alice.address}>")
        self.assertEqual(code, 530, text)
        c.quit()

    # -- a mail client ----------------------------------------------------
    def test_smtplib_starttls_login_sends_and_relays(self):
        c = self.logged_in()
        # An authenticated client may relay.
        c.mail(self.alice.address)
        code, _ = c.rcpt("someone@elsewhere.example")
        self.assertEqual(code, 250)
        c.rset()
        c.sendmail(self.alice.address, [self.bob.address], self.message("starttls-login"))
        c.quit()
        m = self.delivered("starttls-login")
        received = m.get_all("Received")[-1]
        self.assertIn("with ESMTPSA", received)
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\)")
        # Completed as inject completes (RFC 6409 8.2, 8.3).
        self.assertTrue(m["Date"])
        self.assertRegex(m["Message-ID"], r"^<\d+\.[0-9a-f]+@")
        log = self.server.log()
        self.assertRegex(log, r"(?m)msg=\S+ accepted client=127\.0\.0\.1 .* message-id=<\d+\.[0-9a-f]+@\S+> "
                         r"tls=TLSv1\.[23] auth=" + re.escape(self.alice.name) + r" received-id=[0-9a-f]{16}$")

    def test_auth_plain_on_two_lines_and_login(self):
        for mech in ("PLAIN", "LOGIN"):
            c = self.client()
            c.starttls(context=tls_context(self.cafile))
            c.ehlo("client.example")
            if mech == "PLAIN":
                code, text = c.docmd("AUTH", "PLAIN")
                self.assertEqual(code, 334)
                code, text = c.docmd(base64.b64encode(f"\0{self.alice.name}\0{PASSWORD}".encode()).decode())
            else:
                code, text = c.docmd("AUTH", "LOGIN")
                self.assertEqual((code, base64.b64decode(text)), (334, b"Username:"))
                code, text = c.docmd(base64.b64encode(self.alice.name.encode()).decode())
                self.assertEqual((code, base64.b64decode(text)), (334, b"Password:"))
                code, text = c.docmd(base64.b64encode(PASSWORD.encode()).decode())
            self.assertEqual(code, 235, text)
            code, text = c.docmd("AUTH", "PLAIN")
            self.assertEqual(code, 503, text)  # once is enough
            c.quit()

    def test_cancel_and_bad_base64(self):
        c = self.client()
        c.starttls(context=tls_context(self.cafile))
        c.ehlo("client.example")
        self.assertEqual(c.docmd("AUTH", "LOGIN")[0], 334)
        self.assertEqual(c.docmd("*")[0], 501)
        self.assertEqual(c.docmd("AUTH", "PLAIN !!!notbase64")[0], 501)
        self.assertEqual(c.docmd("AUTH", "CRAM-MD5")[0], 504)
        c.quit()

    def test_wrong_password_is_refused_slowly_and_logged(self):
        c = self.client()
        c.starttls(context=tls_context(self.cafile))
        c.ehlo("client.example")
        start = time.monotonic()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            c.login(self.alice.name, "wrong")
        self.assertEqual(e.exception.smtp_code, 535)
        self.assertIn(b"5.7.8", e.exception.smtp_error)
        self.assertGreaterEqual(time.monotonic() - start, 1.5)  # the parent's delay (a lower bound only)
        c.quit()
        wait_for(lambda: f"login failed for {self.alice.name} from 127.0.0.1" in self.server.log(), 10,
                 "the failed login in the log\n" + self.server.log()[-2000:])

    def test_too_many_failures_close_the_connection(self):
        r = Raw(self.server.port, timeout=60)
        r.reply()
        r.command("EHLO x")
        self.assertEqual(r.command("STARTTLS")[0], 220)
        r.sock = tls_context(self.cafile).wrap_socket(r.sock, server_hostname="localhost")
        r.command("EHLO x")
        bad = base64.b64encode(f"\0{self.alice.name}\0nope".encode()).decode()
        codes = [r.command("AUTH PLAIN " + bad)[0] for _ in range(5)]
        self.assertEqual(codes, [535, 535, 535, 535, 421])
        self.assertTrue(r.closed())

    # -- whose addresses --------------------------------------------------
    def test_sender_the_login_does_not_own_is_refused(self):
        c = self.logged_in()
        code, text = c.docmd("MAIL", "FROM:<ceo@elsewhere.example>")
        self.assertEqual(code, 553, text)
        self.assertIn(b"5.7.1", text)
        code, text = c.docmd("MAIL", f"FROM:<{self.bob.address}>")
        self.assertEqual(code, 553, text)
        # login-anything@ is the login's own.
        code, text = c.docmd("MAIL", f"FROM:<{self.alice.name}-lists@{self.inst.me}>")
        self.assertEqual(code, 250, text)
        c.rset()
        # The envelope is fine, the From: is someone else's: refused after DATA.
        queued = self.inst.queue_count()
        with self.assertRaises(smtplib.SMTPDataError) as e:
            c.sendmail(self.alice.address, [self.bob.address], self.message("forged", sender=self.bob.address))
        self.assertEqual(e.exception.smtp_code, 553)
        c.quit()
        self.assertIn("is not an address of", self.server.log())
        self.assertLessEqual(self.inst.queue_count(), queued)

    def test_a_virtual_domain_belongs_to_its_owner_not_to_a_namesake(self):
        # virt.example is bob's (qmail's virtualdomains): alice@virt.example
        # is delivered to bob-alice, so alice may not send as it.
        self.inst.control("virtualdomains", f"virt.example:{self.bob.name}\n")
        try:
            c = self.logged_in()
            code, text = c.docmd("MAIL", "FROM:<alice@virt.example>")
            self.assertEqual(code, 553, text)
            code, text = c.docmd("MAIL", f"FROM:<{self.alice.name}@virt.example>")
            self.assertEqual(code, 553, text)
            c.quit()
        finally:
            os.unlink(os.path.join(self.inst.home, "control", "virtualdomains"))

    def test_senderlogins_maps_a_login_to_addresses(self):
        self.inst.control("senderlogins", f"# who may send as what\n{self.alice.name}: sales@shop.example @team.example\n")
        try:
            c = self.logged_in()
            self.assertEqual(c.docmd("MAIL", "FROM:<sales@shop.example>")[0], 250)
            c.rset()
            self.assertEqual(c.docmd("MAIL", "FROM:<anyone@Team.example>")[0], 250)
            c.rset()
            # An entry replaces the default.
            self.assertEqual(c.docmd("MAIL", f"FROM:<{self.alice.address}>")[0], 553)
            c.quit()
        finally:
            os.unlink(os.path.join(self.inst.home, "control", "senderlogins"))

    # -- implicit TLS (465) -------------------------------------------------
    def test_smtp_ssl_implicit(self):
        c = smtplib.SMTP_SSL("localhost", self.implicit.port, timeout=30, context=tls_context(self.cafile))
        c.ehlo("client.example")
        self.assertFalse(c.has_extn("starttls"))
        c.login(self.alice.name, PASSWORD)
        c.sendmail(self.alice.address, [self.bob.address], self.message("implicit"))
        c.quit()
        self.assertIn("with ESMTPSA", self.delivered("implicit").get_all("Received")[-1])

    # -- other clients --------------------------------------------------------
    def swaks(self, args, subject):
        p = subprocess.run(["swaks", "--server", "127.0.0.1", "--from", self.alice.address, "--to", self.bob.address,
                            "--auth-user", self.alice.name, "--auth-password", PASSWORD, "--tls-ca-path",
                            self.cafile, "--tls-verify", "--tls-sni", "localhost", "--header", f"Subject: {subject}"]
                           + args, capture_output=True, timeout=60)
        return p

    def test_swaks_plain_login_and_tlsc(self):
        for args, subject in ((["--port", str(self.server.port), "--tls", "--auth", "PLAIN"], "swaks-plain"),
                              (["--port", str(self.server.port), "--tls", "--auth", "LOGIN"], "swaks-login"),
                              (["--port", str(self.implicit.port), "--tlsc", "--auth", "PLAIN"], "swaks-tlsc")):
            p = self.swaks(args, subject)
            self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode(errors="replace")[-3000:])
            self.assertIn("with ESMTPSA", self.delivered(subject).get_all("Received")[-1])

    def test_curl_ssl_reqd_and_smtps(self):
        for url, subject in ((f"smtp://127.0.0.1:{self.server.port}", "curl-starttls"),
                             (f"smtps://127.0.0.1:{self.implicit.port}", "curl-smtps")):
            p = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", self.cafile, "--resolve",
                                f"localhost:{url.rsplit(':', 1)[1]}:127.0.0.1", url.replace("127.0.0.1", "localhost"),
                                "--mail-from", self.alice.address, "--mail-rcpt", self.bob.address, "-u",
                                f"{self.alice.name}:{PASSWORD}", "-T", "-"],
                               input=self.message(subject).encode(), capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.delivered(subject)

    def test_nodemailer(self):
        if not os.path.isdir("/usr/share/nodejs/nodemailer"):
            self.skipTest("Debian's node-nodemailer is not installed")
        script = f"""
const nodemailer = require('/usr/share/nodejs/nodemailer');
const fs = require('fs');
const t = nodemailer.createTransport({{host: 'localhost', port: {self.server.port}, secure: false, requireTLS: true,
  auth: {{user: {self.alice.name!r}, pass: {PASSWORD!r}}}, tls: {{ca: fs.readFileSync({self.cafile!r})}}}});
t.sendMail({{from: {self.alice.address!r}, to: {self.bob.address!r}, subject: 'nodemailer', text: 'hi'}})
 .then(() => process.exit(0), (e) => {{ console.error(e); process.exit(1); }});
"""
        p = subprocess.run(["node", "-e", script], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("with ESMTPSA", self.delivered("nodemailer").get_all("Received")[-1])

    # -- who runs what --------------------------------------------------------
    def test_network_stage_is_posternd_and_cannot_read_the_key(self):
        if not self.inst.multi:
            self.skipTest("needs root: users")
        c = self.client()
        smtpd = os.path.join(self.inst.bin, "smtpd")
        pids = wait_for(lambda: processes_of(smtpd), 10, "smtpd processes")
        daemon = conf_user("daemon")
        import pwd
        uid = pwd.getpwnam(daemon).pw_uid
        stages = [p for p in pids if process_ids(p) == (uid, uid)]
        parents = [p for p in pids if process_ids(p) == (0, 0)]
        self.assertTrue(stages, pids)
        # The root smtpd is only the stage's parent: the login parent.
        for p in parents:
            self.assertIn(p, [parent_of(s) for s in stages])
        key = os.path.join(self.inst.home, "control", "tls", "default.pem")
        p = subprocess.run(["cat", key], user=uid, group=pwd.getpwnam(daemon).pw_gid, extra_groups=[],
                           capture_output=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"Permission denied", p.stderr)
        # tlsd's control descriptor (4) is close-on-exec in the root parent,
        # so checkpassword, and what it runs as the user, never get it.
        for p in parents:
            try:
                with open(f"/proc/{p}/fdinfo/4") as f:
                    flags = int(f.read().split("flags:")[1].split()[0], 8)
            except FileNotFoundError:
                continue
            self.assertTrue(flags & 0o2000000, f"fd 4 of the login parent {p} is inherited by checkpassword")
        c.quit()


if __name__ == "__main__":
    unittest.main()
