"""remote on instance A to a second postern, instance B, behind tlsd
(tcpserver + tlsd -u posternd + smtpd, as boot's port 25 line): A upgrades
with STARTTLS, verifies B's certificate with B's test CA in A's
control/tlsremoteca, and the message B delivers carries a Received: line
that says `with ESMTPS` and the cipher; a policy that demands TLS defers
the mail to a B smtpd that offers none (no tlsd in front), and B never
sees its envelope."""
import os
import re
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from smtp_helpers import SmtpServer, smtpd_tls_server


class RemoteToPosternOverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = None
        cls.servers = []
        try:
            b = cls.b = Instance()
            b.control("me", "b.example")
            b.control("locals", "b.example")
            b.control("rcpthosts", "b.example")
            b.me = "b.example"
            cls.bob = b.add_user("tbob")
            cls.ca = b.make_certificate(names=("localhost",), ca=True)
            b.start()
            cls.tls_smtpd = smtpd_tls_server(b, "25")
            cls.servers.append(cls.tls_smtpd)
            cls.plain_smtpd = SmtpServer(b)
            cls.servers.append(cls.plain_smtpd)

            a = cls.a = Instance()
            a.control("me", "a.example")
            a.control("locals", "a.example")
            a.control("timeoutconnect", "5")
            a.control("timeoutremote", "30")
            a.me = "a.example"
            cls.alice = a.add_user("talice")
            # b.example through B's tlsd; nottls.b.example to B's smtpd alone.
            a.control("smtproutes", f"b.example:localhost:{cls.tls_smtpd.port}\n"
                                    f"nottls.b.example:localhost:{cls.plain_smtpd.port}\n")
            a.control("tlspolicy", "b.example verify\nnottls.b.example encrypt\n")
            with open(cls.ca) as f:
                a.control("tlsremoteca", f.read())
            a.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        for inst in (cls.a, cls.b):
            if inst:
                inst.cleanup()
        remove_test_users()

    def send(self, to, subject):
        msg = f"From: {self.alice.address}\nTo: {to}\nSubject: {subject}\n\nhello over the wire\n"
        p = self.a.inject(["-f", self.alice.address, to], msg)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_starttls_to_postern_and_received_says_esmtps(self):
        to = f"{self.bob.name}@b.example"
        before = set(maildir_files(self.bob.maildir))
        self.send(to, "to B over TLS")
        got = self.b.wait_maildir(self.bob.maildir, len(before) + 1, timeout=60)
        msg = read_message([f for f in got if f not in before][0])
        self.assertEqual(msg["Subject"], "to B over TLS")
        received = [str(r) for r in msg.get_all("Received")]
        by_smtpd = [r for r in received if "(postern smtpd)" in r]
        self.assertEqual(len(by_smtpd), 1, received)
        self.assertRegex(by_smtpd[0], r"^from a\.example \(\[127\.0\.0\.1\]\)\s+\(using TLSv1\.[23] with cipher "
                                      r"[A-Z0-9_-]+ \(\d+/\d+ bits\)\)\s+by b\.example \(postern smtpd\) with ESMTPS id ")
        # A's log says the same from its side, and that B's certificate verified.
        line = wait_for(lambda: [l for l in self.a.log().splitlines()
                                 if f"to=<{to}> channel=remote " in l and " status=sent " in l], 30,
                        "A's success line\n" + self.a.log()[-3000:])[0]
        self.assertRegex(line, r"said: 250 .* \(TLS TLSv1\.[23] [A-Z0-9_-]+, certificate verified\)\"$")
        cipher = re.search(r"with cipher ([A-Z0-9_-]+)", by_smtpd[0]).group(1)
        self.assertIn(f" {cipher}, certificate verified", line)
        wait_for(lambda: to not in self.a.mailq(), 30, f"{to} to leave A's queue\n" + self.a.mailq())

    def test_encrypt_defers_when_b_offers_no_starttls(self):
        to = f"{self.bob.name}@nottls.b.example"
        self.send(to, "must not go in clear")
        q = wait_for(lambda: "does not offer STARTTLS" in self.a.mailq() and self.a.mailq(), 60,
                     "the deferral in A's mailq\n" + self.a.mailq() + self.a.log()[-2000:])
        self.assertIn("TLS is required for nottls.b.example (encrypt, control/tlspolicy line 2)", q)
        self.assertIn("(#4.7.4)", q)
        self.assertIn(to, q)
        # B's smtpd saw a session but never a sender or a message.
        self.assertNotIn("must not go in clear", "".join(
            open(f, errors="replace").read() for f in maildir_files(self.bob.maildir)))
        self.assertNotIn(" accepted client=", self.plain_smtpd.log())


if __name__ == "__main__":
    unittest.main()
