"""Checking incoming mail (authcheck): SPF, DKIM and DMARC against a real
DNS server, with real clients on several addresses (root only).

    netns R   lo: 10.78.0.1 smtpd (tcpserver, as posternd; authcheck as
                  posternc), 10.78.0.2 and .3 clients, 10.78.0.53 dnsmasq
                  (the test zone), 10.78.0.54 bigdns.py (SERVFAIL for
                  slow.test, which dnsmasq forwards there)
              /etc/netns/R/resolv.conf -> 10.78.0.53

The instance's queue and deliveries run outside the namespace; only smtpd
(and the authcheck it runs) asks DNS. Every message is read back from the
Maildir, and its Authentication-Results field checked as a user's mail
program would read it; refusals are checked as the SMTP client sees them."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import Instance, ServerTestCase, conf_user, make_env, maildir_files, read_message, wait_for, IS_ROOT, sh

TAG = f"pt{os.getpid() % 100000}"
NS = f"{TAG}R"
SMTPD, GOOD, BAD, DNS, SERVFAIL = "10.78.0.1", "10.78.0.2", "10.78.0.3", "10.78.0.53", "10.78.0.54"
SYSTEM_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
DKIMPY = os.path.join(HERE, "dkimpy_tool.py")
ME = "mx.test"

TXT = {
    "good.test": "v=spf1 ip4:10.78.0.2 -all",
    "_dmarc.good.test": "v=DMARC1; p=reject",
    "soft.test": "v=spf1 ip4:10.78.0.2 ~all",
    "neutral.test": "v=spf1 ?all",
    "broken.test": "v=spf1 frobnicate:x -all",
    "quar.test": "v=spf1 ip4:10.78.0.2 -all",
    "_dmarc.quar.test": "v=DMARC1; p=quarantine",
    "mon.test": "v=spf1 ip4:10.78.0.2 -all",
    "_dmarc.mon.test": "v=DMARC1; p=none",
    "helo.test": "v=spf1 ip4:10.78.0.2 -all",
}


def why_not():
    if not IS_ROOT:
        return "network namespaces and setuid programs need root"
    for prog in ("ip", "dnsmasq", "tcpserver"):
        if not shutil.which(prog):
            return f"no {prog}"
    if subprocess.run([SYSTEM_PYTHON, "-c", "import dkim, nacl"], capture_output=True).returncode != 0:
        return "python3-dkim and python3-nacl are not installed (tools/deps installs them)"
    return None


def txt_strings(text):
    """dnsmasq's --txt-record value: the text cut in strings of 250,
    separated by commas (quotes would be taken as part of the text)."""
    return ",".join(text[i:i + 250] for i in range(0, len(text), 250))


CLIENT = r"""
import json, smtplib, sys
a = json.loads(sys.argv[1])
try:
    c = smtplib.SMTP(a["server"], 25, timeout=60, source_address=(a["source"], 0), local_hostname=a["helo"])
    c.ehlo(a["helo"])
    c.mail(a["sender"])
    c.rcpt(a["rcpt"])
    code, msg = c.data(a["message"].encode("latin-1"))
    c.quit()
except smtplib.SMTPResponseException as e:
    code, msg = e.smtp_code, e.smtp_error
print(json.dumps([code, msg.decode("latin-1")]))
"""


@unittest.skipIf(why_not(), why_not())
class AuthCheck(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = None
        cls.procs = []
        try:
            cls.setup_instance()
            cls.setup_dns()
            cls.setup_smtpd()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def setup_instance(cls):
        inst = cls.inst = Instance()
        inst.control("me", ME)
        inst.control("locals", f"{ME}\nlocalhost")
        inst.control("rcpthosts", ME)
        inst.me = ME
        cls.alice = inst.add_user("alice")
        cls.bob = inst.add_user("bob")  # receives what postern's own dkimsign signs
        inst.control("authpolicy", "")
        # Keys: an RSA key (dkimkey) that postern's dkimsign signs with, and an
        # Ed25519 key dkimpy signs with.
        cls.records = {}
        p = inst.run("dkimkey", ["good.test", "rsa1"])
        assert p.returncode == 0, p.stderr
        for line in p.stdout.decode().splitlines():
            m = re.match(r"^(\S+)\. IN TXT \((.*)\)$", line)
            if m:
                cls.records[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
        key = json.loads(subprocess.run([SYSTEM_PYTHON, DKIMPY, "ed25519-key"], capture_output=True,
                                        check=True).stdout)
        cls.ed_private = key["private"]
        cls.records["ed2._domainkey.good.test"] = "v=DKIM1; k=ed25519; p=" + key["public"]
        inst.start()

    @classmethod
    def setup_dns(cls):
        sh("ip", "netns", "add", NS)
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        for a in (SMTPD, GOOD, BAD, DNS, SERVFAIL):
            sh("ip", "-n", NS, "addr", "add", f"{a}/24", "dev", "lo")
        os.makedirs(f"/etc/netns/{NS}", exist_ok=True)
        with open(f"/etc/netns/{NS}/resolv.conf", "w") as f:
            f.write(f"nameserver {DNS}\noptions timeout:2 attempts:1\n")
        bigdns = subprocess.Popen(["ip", "netns", "exec", NS, "python3", os.path.join(HERE, "bigdns.py"), SERVFAIL, SMTPD],
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        cls.procs.append(bigdns)
        assert bigdns.stdout.readline().strip() == b"listening"
        cmd = ["ip", "netns", "exec", NS, "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
               f"--listen-address={DNS}", "--bind-interfaces", "--port=53", "--local=/test/",
               f"--server=/slow.test/{SERVFAIL}", f"--pid-file=/tmp/{TAG}-dnsmasq.pid"]
        records = dict(TXT)
        records.update(cls.records)
        cmd += [f"--txt-record={name},{txt_strings(text)}" for name, text in records.items()]
        cls.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          stdin=subprocess.DEVNULL, start_new_session=True))
        probe = "import socket; socket.create_connection(('%s', 53), 1)" % DNS
        wait_for(lambda: sh("ip", "netns", "exec", NS, "python3", "-c", probe, check=False).returncode == 0, 10,
                 "dnsmasq in the namespace")

    @classmethod
    def setup_smtpd(cls):
        inst = cls.inst
        import pwd
        daemon = pwd.getpwnam(conf_user("daemon"))
        cls.smtpd_log = os.path.join(inst.tmp, "smtpd.log")
        log = open(cls.smtpd_log, "ab")
        cls.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, "tcpserver", "-R", "-H", "-l", "0", "-u", str(daemon.pw_uid), "-g",
             str(daemon.pw_gid), SMTPD, "25", os.path.join(inst.bin, "smtpd")],
            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(),
            cwd="/"))
        log.close()
        wait_for(lambda: f"{SMTPD}:25 " in sh("ip", "netns", "exec", NS, "ss", "-ltnH", check=False).stdout, 10,
                 "smtpd in the namespace")

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(f"/etc/netns/{NS}", ignore_errors=True)
        try:
            os.unlink(f"/tmp/{TAG}-dnsmasq.pid")
        except FileNotFoundError:
            pass
        if cls.inst:
            super().tearDownClass()

    # -- helpers -----------------------------------------------------------
    def send(self, subject, sender, source=GOOD, helo="client.good.test", from_header=None, signed=None,
             extra_header="", wait=True):
        """Sends a message from source; returns (code, text) of the reply
        to DATA and the delivered message's bytes (None if refused)."""
        message = (f"From: {from_header or sender or 'someone@good.test'}\r\nTo: {self.alice.address}\r\n"
                   f"Subject: {subject}\r\nMessage-ID: <{subject}@test>\r\n{extra_header}\r\nhello\r\n")
        if signed:
            message = signed(message)
        args = {"server": SMTPD, "source": source, "helo": helo, "sender": sender, "rcpt": self.alice.address,
                "message": message}
        p = sh("ip", "netns", "exec", NS, "python3", "-c", CLIENT, json.dumps(args))
        code, text = json.loads(p.stdout)
        if code != 250 or not wait:
            return code, text, None
        return code, text, self.delivered(subject)

    def delivered(self, subject):
        def find():
            for path in maildir_files(self.alice.maildir):
                if read_message(path)["Subject"] == subject:
                    with open(path, "rb") as f:
                        return f.read()
            return None
        return wait_for(find, 30, f"{subject} in the Maildir\n" + self.inst.log()[-2000:])

    def results(self, raw):
        """The methods of our Authentication-Results field: [(method, result, rest)]."""
        m = read_message_bytes(raw)
        fields = m.get_all("Authentication-Results") or []
        ours = [f for f in fields if str(f).split(";")[0].strip() == ME]
        self.assertEqual(len(ours), 1, raw)
        out = []
        for part in re.sub(r"\s+", " ", str(ours[0])).split(";")[1:]:
            part = part.strip()
            method, result = part.split(" ")[0].split("=")
            out.append((method, result, part))
        return out

    def result(self, raw, method, prop=None):
        for m, r, rest in self.results(raw):
            if m == method and (prop is None or prop in rest):
                return r, rest
        self.fail(f"no {method} {prop or ''} in {self.results(raw)}")

    def policy(self, text):
        self.inst.control("authpolicy", text)

    def tearDown(self):
        self.policy("")

    def sign_postern(self, message):
        """The message signed by postern's own dkimsign (injected for bob,
        then read back from his Maildir), without what local delivery added."""
        self.inst.control("dkimkeys", "good.test rsa1")
        try:
            before = len(maildir_files(self.bob.maildir))
            p = self.inst.inject([self.bob.address], message.replace("\r\n", "\n"))
            assert p.returncode == 0, p.stderr
            with open(self.inst.wait_maildir(self.bob.maildir, before + 1)[-1], "rb") as f:
                raw = f.read()
        finally:
            self.inst.control("dkimkeys", "")
        head, body = raw.split(b"\n\n", 1)
        keep = [l for l in re.split(rb"\n(?![ \t])", head) if not l.startswith((b"Return-Path:", b"Delivered-To:"))]
        return (b"\n".join(keep) + b"\n\n" + body).decode("latin-1").replace("\n", "\r\n")

    def sign_dkimpy(self, message):
        p = subprocess.run([SYSTEM_PYTHON, DKIMPY, "sign-ed25519", "good.test", "ed2", self.ed_private],
                           input=message.encode(), capture_output=True, check=True)
        return p.stdout.decode("latin-1")

    # -- SPF -----------------------------------------------------------------
    def test_spf_results_in_the_header(self):
        cases = [("spf-pass", "a@good.test", GOOD, "pass"), ("spf-fail", "a@good.test", BAD, "fail"),
                 ("spf-soft", "a@soft.test", BAD, "softfail"), ("spf-neutral", "a@neutral.test", BAD, "neutral"),
                 ("spf-none", "a@nospf.test", BAD, "none"), ("spf-perm", "a@broken.test", GOOD, "permerror"),
                 ("spf-temp", "a@x.slow.test", GOOD, "temperror")]
        for subject, sender, source, want in cases:
            with self.subTest(subject):
                code, text, raw = self.send(subject, sender, source)
                self.assertEqual(code, 250, text)
                got, rest = self.result(raw, "spf", "smtp.mailfrom")
                self.assertEqual(got, want, rest)
                self.assertIn(f"smtp.mailfrom={sender}", rest)

    def test_helo_identity_checked_and_used_for_bounces(self):
        code, text, raw = self.send("helo-pass", "", GOOD, helo="helo.test", from_header="mailer@good.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(self.result(raw, "spf", "smtp.helo")[0], "pass")
        self.assertEqual([m for m, _, _ in self.results(raw)].count("spf"), 1)  # no MAIL FROM for a bounce
        code, text, raw = self.send("helo-fail", "", BAD, helo="helo.test", from_header="mailer@good.test")
        self.assertEqual(self.result(raw, "spf", "smtp.helo")[0], "fail")

    def test_spf_fail_rejected_only_when_the_policy_says(self):
        self.policy("spf=fail reject\nspf=softfail header")
        code, text, raw = self.send("spf-reject", "a@good.test", BAD)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.7.23"), text)
        self.assertIsNone(raw)
        code, text, raw = self.send("spf-soft-ok", "a@soft.test", BAD)
        self.assertEqual(code, 250, text)
        self.assertEqual(self.result(raw, "spf", "smtp.mailfrom")[0], "softfail")

    def test_spf_temperror_rejected_for_now(self):
        self.policy("spf=temperror reject")
        code, text, _ = self.send("spf-temp-reject", "a@x.slow.test", GOOD)
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith("4.4.3"), text)

    # -- DKIM ----------------------------------------------------------------
    def test_dkim_postern_and_dkimpy_signatures_pass_and_tampering_fails(self):
        code, text, raw = self.send("dkim-postern", "a@good.test", BAD, signed=self.sign_postern)
        self.assertEqual(code, 250, text)
        got, rest = self.result(raw, "dkim")
        self.assertEqual(got, "pass", rest)
        self.assertIn("header.d=good.test", rest)
        self.assertIn("header.s=rsa1", rest)
        self.assertIn("header.a=rsa-sha256", rest)
        # DKIM aligned with From: carries DMARC though SPF fails.
        self.assertEqual(self.result(raw, "dmarc")[0], "pass")

        code, text, raw = self.send("dkim-ed25519", "a@good.test", GOOD, signed=self.sign_dkimpy)
        got, rest = self.result(raw, "dkim")
        self.assertEqual(got, "pass", rest)
        self.assertIn("header.a=ed25519-sha256", rest)

        def tampered(message):
            return self.sign_dkimpy(message).replace("hello", "HELLO")
        code, text, raw = self.send("dkim-tampered", "a@good.test", GOOD, signed=tampered)
        self.assertEqual(self.result(raw, "dkim")[0], "fail")

    def test_unsigned_mail_is_dkim_none_and_bad_signature_permerror(self):
        code, text, raw = self.send("dkim-none", "a@good.test", GOOD)
        self.assertEqual(self.result(raw, "dkim")[0], "none")
        code, text, raw = self.send("dkim-garbage", "a@good.test", GOOD, extra_header="DKIM-Signature: garbage\r\n")
        self.assertEqual(code, 250, text)
        self.assertEqual(self.result(raw, "dkim")[0], "permerror")

    # -- DMARC ---------------------------------------------------------------
    def test_dmarc_results_and_policies(self):
        code, text, raw = self.send("dmarc-pass", "a@good.test", GOOD)
        got, rest = self.result(raw, "dmarc")
        self.assertEqual(got, "pass", rest)
        self.assertIn("header.from=good.test", rest)
        # Fails with p=reject: only a header, since the admin has not asked.
        code, text, raw = self.send("dmarc-fail", "a@good.test", BAD)
        self.assertEqual(code, 250, text)
        got, rest = self.result(raw, "dmarc")
        self.assertEqual((got, "(p=reject)" in rest), ("fail", True), rest)
        # SPF passes for another domain than From's: not aligned.
        code, text, raw = self.send("dmarc-unaligned", "a@mon.test", GOOD, from_header="boss@good.test")
        self.assertEqual(self.result(raw, "spf", "smtp.mailfrom")[0], "pass")
        self.assertEqual(self.result(raw, "dmarc")[0], "fail")
        code, text, raw = self.send("dmarc-none-record", "a@soft.test", GOOD)
        self.assertEqual(self.result(raw, "dmarc")[0], "none")
        code, text, raw = self.send("dmarc-p-none", "a@mon.test", BAD)
        got, rest = self.result(raw, "dmarc")
        self.assertEqual((got, "(p=none)" in rest), ("fail", True), rest)

    def test_dmarc_reject_when_the_admin_says_so(self):
        self.policy("dmarc=reject reject")
        code, text, raw = self.send("dmarc-rejected", "a@good.test", BAD)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.7.26"), text)
        self.assertIn("good.test", text)
        # p=none and passing mail still go through.
        code, text, raw = self.send("dmarc-p-none-ok", "a@mon.test", BAD)
        self.assertEqual(code, 250, text)
        code, text, raw = self.send("dmarc-pass-ok", "a@good.test", GOOD)
        self.assertEqual(code, 250, text)
        log = open(self.smtpd_log, errors="replace").read()
        self.assertRegex(log, r"authcheck: client=10\.78\.0\.3 spf=fail dkim=none dmarc=fail from_domain=good\.test "
                              r"action=reject rule=dmarc=reject")

    def test_quarantine_holds_the_message_until_released(self):
        self.policy("dmarc=quarantine quarantine")
        code, text, raw_none = self.send("quarantined", "a@quar.test", BAD, wait=False)
        self.assertEqual(code, 250, text)
        queue_id = re.search(r"msg (\S+)", text).group(1)
        q = wait_for(lambda: f"{queue_id}!" in self.inst.mailq() and self.inst.mailq(), 30, "the held message in mailq")
        self.assertIn("authcheck (dmarc=quarantine)", q)
        time.sleep(2)  # a delivery, if it were going to happen, would have
        self.assertFalse(any(read_message(p)["Subject"] == "quarantined" for p in maildir_files(self.alice.maildir)))
        p = self.inst.run("queuectl", ["release", "-i", queue_id])
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = self.delivered("quarantined")
        got, rest = self.result(raw, "dmarc")
        self.assertEqual((got, "(p=quarantine)" in rest), ("fail", True), rest)

    # -- the header itself -----------------------------------------------------
    def test_forged_results_for_this_host_removed_others_kept(self):
        forged = (f"Authentication-Results: {ME}; dmarc=pass header.from=good.test\r\n"
                  "Authentication-Results: elsewhere.test; spf=pass smtp.mailfrom=a@good.test\r\n")
        code, text, raw = self.send("forged", "a@good.test", BAD, extra_header=forged)
        self.assertEqual(code, 250, text)
        self.assertEqual(self.result(raw, "dmarc")[0], "fail")  # ours, and only ours (results() checks one)
        self.assertIn(b"Authentication-Results: elsewhere.test; spf=pass", raw)

    def test_bad_policy_file_is_a_temporary_failure(self):
        self.policy("spf=fail bounce\n")
        code, text, raw = self.send("bad-policy", "a@good.test", GOOD)
        self.assertEqual(code, 451, text)
        self.assertIsNone(raw)
        self.assertIn("authcheck: fatal: control/authpolicy", open(self.smtpd_log, errors="replace").read())

    def test_authcheck_runs_as_its_own_user(self):
        import pwd
        import stat
        st = os.stat(os.path.join(self.inst.bin, "authcheck"))
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, conf_user("check"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o4711)
        # The checks' user can read neither the queue nor the mail.
        check = pwd.getpwnam(conf_user("check"))
        from harness import can_open_as
        mess = os.path.join(self.inst.home, "queue", "mess")
        self.assertFalse(can_open_as(check.pw_uid, check.pw_gid, mess))
        self.assertFalse(can_open_as(check.pw_uid, check.pw_gid, self.alice.maildir))


def read_message_bytes(raw):
    import email
    import email.policy
    return email.message_from_bytes(raw, policy=email.policy.compat32)


if __name__ == "__main__":
    unittest.main()
