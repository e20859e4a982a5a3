"""DKIM signing (dkimsign, dkimkey) end to end: keys made by dkimkey, mail
injected and submitted through real programs, and every signature checked
by an independent verifier, Python's dkim package (dkimpy; PyNaCl for
Ed25519), given the TXT records dkimkey printed. What an admin checks:
the key belongs to the DKIM user alone, RSA and Ed25519 sign side by side,
a changed body fails, mail from other hosts and from domains without a key
is not signed, and a broken key makes mail wait instead of leaving
unsigned."""
import json
import os
import pwd
import re
import smtplib
import stat
import subprocess
import unittest

from harness import Instance, ServerTestCase, can_open_as, conf_user, maildir_files, read_message, wait_for
from smtp_helpers import SmtpServer, smtpd_tls_server, tcprules, tls_context

SYSTEM_PYTHON = "/usr/bin/python3"
DKIMPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dkimpy_tool.py")


def have_dkimpy():
    return subprocess.run([SYSTEM_PYTHON, "-c", "import dkim, nacl"], capture_output=True).returncode == 0

DOMAIN = "example.test"
PASSWORD = "s3cret pass"


def records_of(output):
    """{name: TXT text} from dkimkey's zone lines."""
    found = {}
    for line in output.splitlines():
        m = re.match(r"^(\S+)\. IN TXT \((.*)\)$", line)
        if m:
            found[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    return found


@unittest.skipUnless(have_dkimpy(), "python3-dkim and python3-nacl are not installed (tools/deps installs them)")
class Dkim(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("alice")
        inst.set_password(cls.alice, PASSWORD)
        cls.cafile = inst.make_certificate()
        cls.records = {}
        for kind, selector in (("rsa", "rsa1"), ("ed25519", "ed1")):
            p = inst.run("dkimkey", ["-t", kind, DOMAIN, selector])
            assert p.returncode == 0, p.stderr
            cls.records.update(records_of(p.stdout.decode()))
        inst.control("dkimkeys", f"{DOMAIN} rsa1\n{DOMAIN} ed1\n.{DOMAIN} rsa1\n")
        inst.start()
        rules = tcprules(os.path.join(inst.tmp, "rules.cdb"), '127.0.0.1:allow,RELAYCLIENT=""\n')
        cls.trusted = SmtpServer(inst, rules=rules)
        cls.server = SmtpServer(inst)
        cls.submission = smtpd_tls_server(inst, "587")

    @classmethod
    def tearDownClass(cls):
        cls.trusted.stop()
        cls.submission.stop()
        super().tearDownClass()

    def verify(self, raw):
        """Each DKIM-Signature of raw checked by dkimpy: [(d, s, a, ok)]."""
        p = subprocess.run([SYSTEM_PYTHON, DKIMPY, "verify", json.dumps(self.records)], input=raw, capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [tuple(r) for r in json.loads(p.stdout)]

    def deliver(self, subject, sender_header, via=None):
        msg = f"From: {sender_header}\nTo: {self.alice.address}\nSubject: {subject}\n\nhello\nworld\n"
        before = len(maildir_files(self.alice.maildir))
        if via is None:
            p = self.inst.inject([self.alice.address], msg)
            self.assertEqual(p.returncode, 0, p.stderr)
        elif via is self.submission:
            with smtplib.SMTP("localhost", via.port, timeout=30) as c:
                c.starttls(context=tls_context(self.cafile))
                c.login(self.alice.name, PASSWORD)
                c.sendmail(self.alice.address, [self.alice.address], msg.replace("\n", "\r\n"))
        else:
            with smtplib.SMTP("127.0.0.1", via.port, timeout=30) as c:
                c.sendmail(f"someone@{DOMAIN}", [self.alice.address], msg.replace("\n", "\r\n"))
        files = self.inst.wait_maildir(self.alice.maildir, before + 1)
        for path in files:
            if read_message(path)["Subject"] == subject:
                with open(path, "rb") as f:
                    return f.read()
        self.fail(f"{subject} not delivered")

    # -- keys ------------------------------------------------------------
    def test_key_belongs_to_the_dkim_user_alone(self):
        path = os.path.join(self.inst.home, "control", "dkim", DOMAIN, "rsa1.key")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o400)
        if self.inst.multi:
            self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, conf_user("dkim"))
            prog = os.stat(os.path.join(self.inst.bin, "dkimsign"))
            self.assertEqual(pwd.getpwuid(prog.st_uid).pw_name, conf_user("dkim"))
            self.assertEqual(stat.S_IMODE(prog.st_mode), 0o4711)
            self.assertFalse(can_open_as(self.alice.uid, self.alice.gid, path))

    def test_record_printed_again_with_p_and_never_replaced(self):
        p = self.inst.run("dkimkey", ["-p", DOMAIN, "ed1"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(records_of(p.stdout.decode()), {f"ed1._domainkey.{DOMAIN}": self.records[f"ed1._domainkey.{DOMAIN}"]})
        self.assertIn(f'"{DOMAIN} ed1" to control/dkimkeys', p.stdout.decode())
        again = self.inst.run("dkimkey", ["-t", "ed25519", DOMAIN, "ed1"])
        self.assertEqual(again.returncode, 1)
        self.assertIn(b"exists already", again.stderr)
        bad = self.inst.run("dkimkey", ["../etc", "x"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn(b"not a domain name", bad.stderr)

    # -- signing -----------------------------------------------------------
    def test_injected_mail_gets_rsa_and_ed25519_signatures_that_verify(self):
        raw = self.deliver("both", f"Bob <bob@{DOMAIN}>")
        results = self.verify(raw)
        self.assertEqual(sorted(r[:3] for r in results),
                         [(DOMAIN, "ed1", "ed25519-sha256"), (DOMAIN, "rsa1", "rsa-sha256")], raw)
        self.assertTrue(all(r[3] for r in results), results)
        # Tampering with the body breaks both.
        tampered = raw.replace(b"hello\nworld", b"hello\nWORLD")
        self.assertEqual([r[3] for r in self.verify(tampered)], [False, False])
        # A second From: added on the way, above the signed one, breaks them
        # too: From: is signed once more than it appears. (A verifier takes
        # the bottom-most From: for each h= entry; without the extra entry
        # this forgery would verify.)
        lists = re.findall(rb";h=([^;]*);", re.sub(rb"\s", b"", raw))
        self.assertEqual(len(lists), 2, raw)
        for signed in lists:
            self.assertEqual(signed.lower().split(b":").count(b"from"), 2, signed)
        added = b"From: evil@elsewhere.test\n" + raw
        self.assertEqual([r[3] for r in self.verify(added)], [False, False])

    def test_subdomain_signed_with_the_parent_domain(self):
        raw = self.deliver("sub", f"news@lists.{DOMAIN}")
        results = self.verify(raw)
        self.assertEqual([r[:2] for r in results], [(DOMAIN, "rsa1")], raw)
        self.assertTrue(results[0][3])

    def test_domain_without_key_is_not_signed(self):
        raw = self.deliver("other", "carol@elsewhere.test")
        self.assertNotIn(b"DKIM-Signature", raw)

    def test_relay_client_mail_is_signed_other_hosts_mail_is_not(self):
        raw = self.deliver("trusted", f"bob@{DOMAIN}", via=self.trusted)
        results = self.verify(raw)
        self.assertEqual(len(results), 2, raw)
        self.assertTrue(all(r[3] for r in results), results)
        raw = self.deliver("untrusted", f"bob@{DOMAIN}", via=self.server)
        self.assertNotIn(b"DKIM-Signature", raw)

    def test_authenticated_submission_is_signed(self):
        # alice may send as herself; the From: domain is the host's, so give
        # the host's name a key for this test.
        self.inst.control("dkimkeys", f"{self.inst.me} rsa1\n")
        try:
            p = self.inst.run("dkimkey", [self.inst.me, "rsa1"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.records.update(records_of(p.stdout.decode()))
            raw = self.deliver("submitted", self.alice.address, via=self.submission)
            self.assertIn(b"ESMTPSA", raw)
            results = self.verify(raw)
            self.assertEqual([r[:2] for r in results], [(self.inst.me, "rsa1")], raw)
            self.assertTrue(results[0][3])
        finally:
            self.inst.control("dkimkeys", f"{DOMAIN} rsa1\n{DOMAIN} ed1\n.{DOMAIN} rsa1\n")

    def test_bounce_is_signed(self):
        self.inst.control("dkimkeys", f"{DOMAIN} rsa1\n{self.inst.me} ed1\n")
        try:
            # No key file exists for the host's own name under ed1: make one.
            p = self.inst.run("dkimkey", ["-t", "ed25519", self.inst.me, "ed1"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.records.update(records_of(p.stdout.decode()))
            p = self.inst.inject(["-f", self.alice.address, f"nobody-here@{self.inst.me}"],
                                 f"From: {self.alice.address}\nSubject: to bounce\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)

            def bounce():
                for path in maildir_files(self.alice.maildir):
                    m = read_message(path)
                    if "failure" in (m["Subject"] or "").lower() or m.get_content_type() == "multipart/report":
                        return path
                return None
            path = wait_for(bounce, 30, "the bounce\n" + self.inst.log()[-2000:])
            with open(path, "rb") as f:
                results = self.verify(f.read())
            self.assertEqual([r[:2] for r in results], [(self.inst.me, "ed1")])
            self.assertTrue(results[0][3])
        finally:
            self.inst.control("dkimkeys", f"{DOMAIN} rsa1\n{DOMAIN} ed1\n.{DOMAIN} rsa1\n")

    def test_broken_key_makes_mail_wait(self):
        self.inst.control("dkimkeys", f"{DOMAIN} missing\n")
        try:
            before = self.inst.queue_count()
            p = self.inst.inject([self.alice.address], f"From: bob@{DOMAIN}\nSubject: waits\n\nx\n")
            self.assertEqual(p.returncode, 111, p.stderr)
            self.assertIn(b"missing.key", p.stderr)
            self.assertEqual(self.inst.queue_count(), before)
            self.inst.control("dkimkeys", f"{DOMAIN} rsa1 extra\n")
            p = self.inst.inject([self.alice.address], f"From: bob@{DOMAIN}\nSubject: waits\n\nx\n")
            self.assertEqual(p.returncode, 111, p.stderr)
            self.assertIn(b"control/dkimkeys", p.stderr)
        finally:
            self.inst.control("dkimkeys", f"{DOMAIN} rsa1\n{DOMAIN} ed1\n.{DOMAIN} rsa1\n")


if __name__ == "__main__":
    unittest.main()
