"""remote's STARTTLS and per-domain TLS policy (control/tlspolicy,
control/tlsremoteca), against a Python SMTP peer with STARTTLS on a real
loopback socket (tls_peer.py) and test certificates made with openssl.

Instance A routes each test's domain to a peer of its own with
control/smtproutes (to the name localhost, which the certificates carry);
what the peer records (the commands before and after TLS, the message) is
what the admin of the other host would see. A deferred message stays in
A's queue and mailq says why; nothing the policy forbids is sent in clear:
no MAIL, RCPT or DATA reaches a peer outside TLS."""
import os
import re
import time
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from tls_peer import Certificates, TlsPeer

TLS_NOTE = r"\(TLS TLSv1\.[23] [A-Z0-9_-]+, certificate (verified|not verified: [^)]*)\)"


class RemoteTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = None
        try:
            a = cls.a = Instance()
            a.control("me", "a.example")
            a.control("locals", "a.example")
            a.control("timeoutconnect", "5")
            a.control("timeoutremote", "20")
            a.me = "a.example"
            cls.alice = a.add_user("talice")
            cls.certs = Certificates(os.path.join(a.tmp, "certs"))
            cls.routes, cls.policy = {}, []
            a.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.a:
            cls.a.cleanup()
        remove_test_users()

    def setUp(self):
        self.a.control("tlsremoteca", "")
        os.unlink(os.path.join(self.a.home, "control", "tlsremoteca"))

    def peer(self, domain, options=lambda n: {}, policy=None):
        p = TlsPeer(options, self.certs)
        self.addCleanup(p.stop)
        self.routes[domain] = f"localhost:{p.port}"
        self.a.control("smtproutes", "".join(f"{d}:{r}\n" for d, r in self.routes.items()))
        if policy:
            self.policy.append(f"{domain} {policy}")
        self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        return p

    def send(self, to, subject):
        msg = f"From: {self.alice.address}\nTo: {to}\nSubject: {subject}\n\nsecret text {subject}\n"
        p = self.a.inject(["-f", self.alice.address, to], msg)
        self.assertEqual(p.returncode, 0, p.stderr)

    def log_line(self, to, kind, timeout=40):
        status = {"success": "sent", "deferral": "deferred", "failure": "bounced"}[kind]
        return wait_for(lambda: [l for l in self.a.log().splitlines()
                                 if f"to=<{to}> channel=remote " in l and f" status={status} " in l], timeout,
                        f"a {kind} for {to} in A's log\n" + self.a.log()[-3000:])[-1]

    def mailq_has(self, text, timeout=40):
        return wait_for(lambda: text in self.a.mailq() and self.a.mailq(), timeout,
                        f"'{text}' in A's mailq:\n" + self.a.mailq() + self.a.log()[-2000:])

    def assert_nothing_in_clear(self, peer):
        for s in peer.sessions:
            plain = s["commands"][:len(s["commands"]) - len(s["commands_tls"])]
            self.assertFalse([c for c in plain if c[:4].upper() in ("MAIL", "RCPT", "DATA")], s)
            if not s["tls"]:
                self.assertIsNone(s["data"], s)

    def gone_from_queue(self, to, timeout=40):
        wait_for(lambda: to not in self.a.mailq(), timeout, f"{to} to leave A's queue:\n" + self.a.mailq())

    # -- opportunistic ---------------------------------------------------------
    def test_may_upgrades_and_says_so(self):
        peer = self.peer("may.example")
        self.send("u@may.example", "over tls")
        line = self.log_line("u@may.example", "success")
        self.assertRegex(line, r"said: 250 2\.0\.0 accepted by peer " + TLS_NOTE)
        self.assertIn("certificate not verified", line)  # the test CA is not trusted here
        s = peer.sessions[-1]
        self.assertIsNotNone(s["tls"], s)
        self.assertIn(s["tls"][0], ("TLSv1.2", "TLSv1.3"))
        # STARTTLS came right after the first EHLO, and EHLO again over TLS.
        self.assertEqual([c.split()[0].upper() for c in s["commands"][:3]], ["EHLO", "STARTTLS", "EHLO"])
        self.assertEqual(s["commands_tls"][0].split()[0].upper(), "EHLO")
        self.assertIn(b"secret text over tls", s["data"])
        self.assert_nothing_in_clear(peer)
        self.gone_from_queue("u@may.example")

    def test_none_sends_in_clear(self):
        peer = self.peer("none.example", policy="none")
        self.send("u@none.example", "in clear")
        line = self.log_line("u@none.example", "success")
        self.assertTrue(line.endswith('said: 250 2.0.0 accepted by peer (no TLS)"'), line)
        s = peer.sessions[-1]
        self.assertIsNone(s["tls"])
        self.assertNotIn("STARTTLS", [c.upper() for c in s["commands"]])
        self.assertIn(b"secret text in clear", s["data"])

    def test_may_falls_back_to_clear_after_a_failed_handshake(self):
        peer = self.peer("broken.example", lambda n: {"garbage": b"this is no TLS\r\n"} if n == 0 else {"starttls": False})
        self.send("u@broken.example", "fallback")
        line = self.log_line("u@broken.example", "success")
        self.assertRegex(line, r"said: 250 2\.0\.0 accepted by peer \(no TLS: failed the TLS handshake: .*\)\"$")
        self.assertEqual(len(peer.sessions), 2)
        self.assertIsNone(peer.sessions[0]["data"])
        self.assertIn(b"secret text fallback", peer.sessions[1]["data"])
        self.assertIn("failed the TLS handshake", self.a.log())

    def test_may_goes_on_in_clear_when_starttls_is_refused(self):
        peer = self.peer("refused.example", lambda n: {"go": "454 4.7.0 TLS not available now"})
        self.send("u@refused.example", "refused tls")
        line = self.log_line("u@refused.example", "success")
        self.assertTrue(line.endswith('said: 250 2.0.0 accepted by peer (no TLS: STARTTLS refused)"'), line)
        self.assertEqual(len(peer.sessions), 1)
        self.assertEqual([c.split()[0].upper() for c in peer.sessions[0]["commands"][:3]], ["EHLO", "STARTTLS", "MAIL"])
        self.assertIn("refused STARTTLS; sending in clear", self.a.log())

    def test_encrypt_defers_when_starttls_is_refused(self):
        peer = self.peer("refused2.example", lambda n: {"go": "454 4.7.0 TLS not available now"}, policy="encrypt")
        self.send("u@refused2.example", "refused tls strict")
        q = self.mailq_has("refused STARTTLS: 454 4.7.0 TLS not available now")
        self.assertIn("(#4.7.5)", q)
        self.assert_nothing_in_clear(peer)
        self.peer_fixed("refused2.example", "u@refused2.example")

    # -- policies that demand TLS ---------------------------------------------------
    def test_encrypt_defers_when_no_starttls(self):
        peer = self.peer("plain.example", lambda n: {"starttls": False}, policy="encrypt")
        self.send("u@plain.example", "must encrypt")
        q = self.mailq_has("does not offer STARTTLS")
        self.assertIn("TLS is required for plain.example (encrypt, control/tlspolicy line", q)
        self.assertIn("nothing was sent. (#4.7.4)", q)
        self.assertRegex(self.log_line("u@plain.example", "deferral"), r"does not offer STARTTLS.*#4\.7\.4")
        self.assertEqual(self.a.queue_count(), 1)
        self.assertTrue(peer.sessions)
        self.assert_nothing_in_clear(peer)
        for s in peer.sessions:
            self.assertFalse([c for c in s["commands"] if c[:4].upper() in ("MAIL", "RCPT", "DATA")], s)
        # The policy goes, the mail goes (in clear: the peer offers no TLS).
        self.policy.remove("plain.example encrypt")
        self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        self.assertEqual(self.a.retry().returncode, 0)
        self.assertRegex(self.log_line("u@plain.example", "success"), r"\(no TLS\)\"$")
        self.gone_from_queue("u@plain.example")

    def test_encrypt_defers_a_failed_handshake_and_never_falls_back(self):
        peer = self.peer("badtls.example", lambda n: {"garbage": b"\x15\x03\x03\x00\x02\x02\x28"}, policy="encrypt")
        self.send("u@badtls.example", "no fallback")
        q = self.mailq_has("failed the TLS handshake")
        self.assertIn("TLS is required for badtls.example", q)
        self.assertIn("(#4.7.5)", q)
        time.sleep(1)
        self.assert_nothing_in_clear(peer)
        self.assertEqual(self.a.queue_count(), 1)
        # Clean up: let it go out once the peer speaks TLS.
        self.peer_fixed("badtls.example", "u@badtls.example")

    def test_encrypt_refuses_plaintext_injected_before_the_handshake(self):
        peer = self.peer("inject.example", lambda n: {"extra": b"250 2.0.0 injected\r\n"}, policy="encrypt")
        self.send("u@inject.example", "injection")
        q = self.mailq_has("sent more after its reply to STARTTLS")
        self.assertIn("(#4.7.5)", q)
        self.assert_nothing_in_clear(peer)
        self.peer_fixed("inject.example", "u@inject.example")

    def test_verify_defers_an_untrusted_certificate_then_passes_with_the_ca_file(self):
        peer = self.peer("verify.example", policy="verify")
        self.send("u@verify.example", "verified")
        q = self.mailq_has("a certificate that does not verify")
        self.assertIn("TLS is required for verify.example (verify,", q)
        self.assertIn("(#4.7.5)", q)
        self.assertIsNone(peer.sessions[-1]["data"])
        self.assertFalse([c for c in peer.sessions[-1]["commands"] if c[:4].upper() in ("MAIL", "RCPT", "DATA")])
        # The admin trusts the private CA: the same peer now passes.
        with open(self.certs.ca) as f:
            self.a.control("tlsremoteca", f.read())
        self.assertEqual(self.a.retry().returncode, 0)
        line = self.log_line("u@verify.example", "success")
        self.assertRegex(line, TLS_NOTE)
        self.assertIn("certificate verified", line)
        self.gone_from_queue("u@verify.example")

    def test_verify_defers_a_self_signed_certificate_even_with_the_ca_file(self):
        with open(self.certs.ca) as f:
            self.a.control("tlsremoteca", f.read())
        self.peer("selfsigned.example", lambda n: {"cert": self.certs.self_signed}, policy="verify")
        self.send("u@selfsigned.example", "self signed")
        q = self.mailq_has("does not verify")
        self.assertRegex(q, r"self.signed certificate")
        self.peer_fixed("selfsigned.example", "u@selfsigned.example")

    def test_secure_checks_the_domain_name_or_match(self):
        with open(self.certs.ca) as f:
            self.a.control("tlsremoteca", f.read())
        # The certificate names localhost, not secure.example.
        self.peer("secure.example", policy="secure")
        self.send("u@secure.example", "secure")
        q = self.mailq_has("does not verify")
        self.assertIn("(secure,", q)
        self.assertIn("hostname mismatch", q)
        self.policy.remove("secure.example secure")
        self.policy.append("secure.example secure match=.other.example:localhost")
        self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        self.assertEqual(self.a.retry().returncode, 0)
        self.assertIn("certificate verified", self.log_line("u@secure.example", "success"))
        self.gone_from_queue("u@secure.example")

    def test_a_malformed_policy_defers(self):
        self.peer("typo.example")
        self.policy.append("typo.example verfy")
        self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        try:
            self.send("u@typo.example", "typo")
            q = self.mailq_has("has an unknown level 'verfy'")
            self.assertIn("(#4.3.5)", q)
        finally:
            self.policy.remove("typo.example verfy")
            self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        self.assertEqual(self.a.retry().returncode, 0)
        self.gone_from_queue("u@typo.example")

    def test_bounce_says_tls_was_used(self):
        self.peer("refuses.example", lambda n: {"rcpt": "550 5.1.1 no such user here"})
        self.send("nobody@refuses.example", "bounced over tls")

        def bounce():
            for f in maildir_files(self.alice.maildir):
                m = read_message(f)
                if m["Subject"] == "failure notice" and "bounced over tls" in m.as_string():
                    return m
        m = wait_for(bounce, 40, "a bounce\n" + self.a.log()[-3000:])
        text = m.as_string()
        self.assertRegex(text, r"550 5\.1\.1 no such user here " + TLS_NOTE)
        self.assertIn("Status: 5.1.1", text)

    # -- helpers -----------------------------------------------------------------
    def peer_fixed(self, domain, to):
        """Routes domain to a well-behaved TLS peer whose certificate
        verifies, retries, and waits for the message to leave."""
        with open(self.certs.ca) as f:
            self.a.control("tlsremoteca", f.read())
        self.peer(domain)
        self.policy[:] = [l for l in self.policy if not l.startswith(domain + " ")]
        self.a.control("tlspolicy", "".join(l + "\n" for l in self.policy))
        self.assertEqual(self.a.retry().returncode, 0)
        self.assertRegex(self.log_line(to, "success"), TLS_NOTE)
        self.gone_from_queue(to)


if __name__ == "__main__":
    unittest.main()
