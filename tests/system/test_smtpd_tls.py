"""smtpd on port 25 behind tlsd (tlsd -u posternd smtpd): STARTTLS with
openssl s_client and smtplib, the state reset RFC 3207 asks for, and
plaintext injection (the CVE-2011-0411 class) on a raw socket: commands
pipelined behind STARTTLS never run, before TLS or after. AUTH is not
offered on 25 unless control/smtpauth says so."""
import os
import re
import smtplib
import subprocess
import unittest

from harness import Instance, ServerTestCase, TlsServer, read_message, wait_for
from smtp_helpers import Raw, smtpd_tls_server, tls_context


class SmtpdTls(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.bob = inst.add_user("bob")
        cls.cafile = inst.make_certificate()
        inst.start()
        cls.server = smtpd_tls_server(inst, "25")

    def raw(self):
        r = Raw(self.server.port, timeout=30)
        self.assertEqual(r.reply()[0], 220)
        return r

    def upgrade(self, r):
        r.sock = tls_context(self.cafile).wrap_socket(r.sock, server_hostname="localhost")
        r.buf = b""

    def test_starttls_offered_auth_not(self):
        c = smtplib.SMTP("localhost", self.server.port, timeout=30)
        c.ehlo("client.example")
        self.assertTrue(c.has_extn("starttls"))
        self.assertFalse(c.has_extn("auth"))
        c.starttls(context=tls_context(self.cafile))
        c.ehlo("client.example")
        self.assertFalse(c.has_extn("starttls"))  # once only
        self.assertFalse(c.has_extn("auth"))      # no control/smtpauth
        self.assertEqual(c.docmd("AUTH", "PLAIN AGEAYg==")[0], 502)
        c.sendmail("someone@elsewhere.example", [self.bob.address], "Subject: over tls\r\n\r\nhi\r\n")
        c.quit()
        self.inst.wait_maildir(self.bob.maildir)
        path = [os.path.join(self.bob.maildir, "new", n) for n in os.listdir(os.path.join(self.bob.maildir, "new"))]
        msgs = [read_message(p) for p in path]
        m = [m for m in msgs if m["Subject"] == "over tls"][0]
        received = m.get_all("Received")[-1]
        self.assertIn("with ESMTPS ", received)
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher ")
        self.assertNotIn("Message-ID", m)  # only submission completes messages

    def test_openssl_s_client_starttls(self):
        p = subprocess.Popen(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{self.server.port}",
                              "-servername", "localhost", "-CAfile", self.cafile, "-verify_return_error", "-quiet"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # s_client reads its input only once the handshake is done.
            seen = b""
            while b"verify return" not in seen:
                line = p.stderr.readline()
                self.assertTrue(line, "s_client ended before the handshake: " + seen.decode(errors="replace"))
                seen += line
            out, err = p.communicate(b"EHLO client.example\r\nQUIT\r\n", timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out = out.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out + err.decode(errors="replace"))
        self.assertIn("250-", out)
        self.assertIn("221 ", out)

    def test_state_is_reset_after_starttls(self):
        r = self.raw()
        r.command("EHLO client.example")
        self.assertEqual(r.command("STARTTLS")[0], 220)
        self.upgrade(r)
        # RFC 3207 4.2: the EHLO before TLS is forgotten.
        self.assertEqual(r.command(f"MAIL FROM:<a@elsewhere.example>")[0], 503)
        code, text = r.command("EHLO client.example")
        self.assertEqual(code, 250)
        self.assertNotIn("STARTTLS", text)
        self.assertEqual(r.command("STARTTLS")[0], 554)       # a second one
        self.assertEqual(r.command("QUIT")[0], 221)

    def test_starttls_with_arguments(self):
        r = self.raw()
        r.command("EHLO client.example")
        self.assertEqual(r.command("STARTTLS now")[0], 501)
        self.assertEqual(r.command("QUIT")[0], 221)

    def test_commands_pipelined_after_starttls_never_run(self):
        r = self.raw()
        r.command("EHLO client.example")
        r.send("STARTTLS\r\nRSET\r\nMAIL FROM:<injected@evil.example>\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertTrue(r.closed())
        wait_for(lambda: 'reject client=127.0.0.1 helo=client.example code=554 dsn=5.5.1 reason="refused STARTTLS: '
                 in self.server.log(), 10, self.server.log()[-2000:])
        self.assertNotIn("injected@evil.example", self.server.log())

    def test_plaintext_sent_during_the_handshake_is_discarded(self):
        r = self.raw()
        r.command("EHLO client.example")
        # The client's bytes after STARTTLS but before its own reply came:
        # sent on their own so that they arrive after smtpd read STARTTLS.
        r.send("STARTTLS\r\n")
        r.send("MAIL FROM:<injected2@evil.example>\r\n")
        code, text = r.reply()
        if code == 554:  # both arrived in one read: refused as above
            self.assertTrue(r.closed())
        else:
            self.assertEqual(code, 220, text)
            try:
                self.upgrade(r)
            except (OSError, ValueError):
                pass  # the bytes broke the handshake: nothing ran either
            else:
                self.assertEqual(r.command("MAIL FROM:<a@elsewhere.example>")[0], 503)
        r.close()
        self.assertNotIn("injected2@evil.example", self.server.log())

    def test_smtpauth_offers_auth_on_25(self):
        """control/smtpauth yes, smtpd started as root behind tlsd: AUTH after
        TLS, optional; an authenticated client relays, others do not."""
        self.inst.set_password(self.bob, "bob pass")
        self.inst.control("smtpauth", "yes")
        server = TlsServer(self.inst, "smtpd")
        try:
            c = smtplib.SMTP("localhost", server.port, timeout=30)
            c.ehlo("client.example")
            self.assertFalse(c.has_extn("auth"))
            c.starttls(context=tls_context(self.cafile))
            c.ehlo("client.example")
            self.assertIn("PLAIN", c.esmtp_features.get("auth", "").upper())
            c.mail("someone@elsewhere.example")
            self.assertEqual(c.rcpt("other@elsewhere.example")[0], 553)  # no relaying yet
            self.assertEqual(c.rcpt(self.bob.address)[0], 250)            # AUTH is optional on 25
            c.rset()
            c.login(self.bob.name, "bob pass")
            # A login that relays sends only as itself, on 25 as on 587.
            self.assertEqual(c.docmd("MAIL", "FROM:<someone@elsewhere.example>")[0], 553)
            c.mail(self.bob.address)
            self.assertEqual(c.rcpt("other@elsewhere.example")[0], 250)
            c.quit()
        finally:
            server.stop()
            os.unlink(os.path.join(self.inst.home, "control", "smtpauth"))


if __name__ == "__main__":
    unittest.main()
