"""DANE (RFC 7672) and MTA-STS (RFC 8461) for remote, against a
DNSSEC-signed zone served by a real authoritative server and policies
served over HTTPS (root only):

    netns H  bridge 10.79.0.1/24; NSD on 10.79.0.53 serving dane.example
             (signed by ldns-signzone), bad.example (signed with a key that
             A's trust anchor does not name: every answer is bogus) and
             plain.example (not signed: insecure; the MTA-STS domains are
             names in it); on 10.79.0.80:443 sts_server.py serving the
             MTA-STS policies, its certificate from B's test CA, which A
             trusts (control/tlsremoteca)
    netns A  10.79.0.2: instance A's whole system; resolv.conf -> NSD;
             control/tlspolicy ". dane", control/trustanchors the DS
             records of dane.example and (wrongly) of bad.example
    netns B  10.79.0.10, .11, .13: tcpserver + tlsd + smtpd of instance B,
             one certificate (signed by B's test CA) for the mx-* names;
             10.79.0.12: smtpd without tlsd (no STARTTLS)

Each case is a domain with its MX and TLSA records; what A's remote did is
read from A's log and mailq and from B's Maildir, as an admin would."""
import hashlib
import os
import shutil
import signal
import subprocess
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for, IS_ROOT, sh
from test_remote_dns import NsInstance, NsSmtpd, build_network

TAG = f"pt{os.getpid() % 100000}"
NS = {k: f"{TAG}{k}" for k in ("H", "A", "B")}
DNS = "10.79.0.53"
TLS_HOSTS = {"mx-good": "10.79.0.10", "mx-wrong": "10.79.0.11", "mx-ta": "10.79.0.13"}
PLAIN = "10.79.0.12"
HTTPS = "10.79.0.80"
# The MTA-STS domains under plain.example: (MX host, policy text).
STS = {
    "enforce": ("mx-good.dane.example", "version: STSv1\nmode: enforce\nmx: mx-good.dane.example\nmax_age: 86400\n"),
    "unlisted": ("mx-good.dane.example", "version: STSv1\r\nmode: enforce\r\nmx: *.elsewhere.example\r\nmax_age: 86400\r\n"),
    "badcert": ("mx.badcert.plain.example", "version: STSv1\nmode: enforce\nmx: *.badcert.plain.example\nmax_age: 86400\n"),
    "testing": ("mx.testing.plain.example", "version: STSv1\nmode: testing\nmx: mx.testing.plain.example\nmax_age: 86400\n"),
    # TLS-RPT: the first MX is not listed (a failure to report), the second is.
    "rpt": ("mx.rptbad.plain.example", "version: STSv1\nmode: enforce\nmx: mx-good.dane.example\nmax_age: 86400\n"),
    # A policy announced in DNS that the server does not have (404).
    "nofetch": ("mx-good.dane.example", None),
}
B_DOMAINS = ["good.dane.example", "wrong.dane.example", "notls.dane.example", "failover.dane.example", "ta.dane.example",
             "unusable.dane.example", "unusablenotls.dane.example", "plain.example", "bad.example"] + [f"{d}.plain.example" for d in STS]


def why_not():
    if not IS_ROOT:
        return "network namespaces need root"
    for prog in ("ip", "nsd", "ldns-signzone", "ldns-keygen", "tcpserver", "openssl", "python3"):
        if not shutil.which(prog):
            return f"no {prog}"
    return None


def openssl_der(args, data=None):
    p = subprocess.run(["openssl"] + args, input=data, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr.decode(errors="replace"))
    return p.stdout


REASON = why_not()


@unittest.skipIf(REASON, REASON)
class Dane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = cls.nsd = cls.https = None
        cls.smtpds = []
        try:
            cls.network()
            b = cls.b = Instance()
            b.control("me", "b.test")
            b.control("locals", "\n".join(["b.test", "localhost"] + B_DOMAINS))
            b.control("rcpthosts", "\n".join(["b.test"] + B_DOMAINS))
            b.me = "b.test"
            cls.bob = b.add_user("dnbob")
            cls.ca = b.make_certificate(names=tuple(f"{h}.dane.example" for h in TLS_HOSTS), ca=True)
            p = b.run("newrcpt", [])
            assert p.returncode == 0, p.stderr
            b.start()
            for address in TLS_HOSTS.values():
                cls.smtpds.append(NsSmtpd(b, NS["B"], address, tls=True))
            cls.plain_smtpd = NsSmtpd(b, NS["B"], PLAIN, tls=False)
            cls.smtpds.append(cls.plain_smtpd)
            cls.start_nsd()
            cls.start_https()
            a = cls.a = NsInstance()
            a.netns = NS["A"]
            a.control("me", "a.test")
            a.control("locals", "a.test\nlocalhost")
            a.control("rcpthosts", "a.test")
            a.control("timeoutconnect", "5")
            a.control("timeoutremote", "20")
            a.control("tlspolicy", ". dane")
            a.control("trustanchors", cls.anchors)
            a.control("tlsremoteca", open(cls.ca).read())
            a.control("smtproutes", f"b.test:{PLAIN}")
            a.me = "a.test"
            cls.alice = a.add_user("dnalice")
            a.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def network(cls):
        build_network(NS, "H", ["10.79.0.1/24", f"{DNS}/24", f"{HTTPS}/24"],
                      {"A": ["10.79.0.2/24"], "B": [f"{a}/24" for a in list(TLS_HOSTS.values()) + [PLAIN]]},
                      "A", DNS)

    @classmethod
    def zones(cls, d):
        """The three zone files in d, dane.example and bad.example signed; the
        trust anchors A is given (cls.anchors)."""
        pem = open(os.path.join(cls.b.home, "control", "tls", "default.pem"), "rb").read()
        spki = openssl_der(["pkey", "-pubin", "-outform", "DER"],
                           openssl_der(["x509", "-pubkey", "-noout"], pem))
        good = hashlib.sha256(spki).hexdigest()
        other = hashlib.sha256(b"not B's key").hexdigest()
        ca_der = openssl_der(["x509", "-outform", "DER", "-in", cls.ca])
        head = "$TTL 300\n@ IN SOA ns.dane.example. admin.dane.example. 1 3600 600 86400 300\n@ IN NS ns.dane.example.\n"
        dane = head + f"ns IN A {DNS}\n"
        for h, a in TLS_HOSTS.items():
            dane += f"{h} IN A {a}\n"
        dane += f"mx-notls IN A {PLAIN}\nmx-unusable IN A {TLS_HOSTS['mx-good']}\n"
        dane += f"_25._tcp.mx-good IN TLSA 3 1 1 {good}\n"
        dane += f"_25._tcp.mx-wrong IN TLSA 3 1 1 {other}\n"
        dane += f"_25._tcp.mx-notls IN TLSA 3 1 1 {good}\n"
        dane += f"_25._tcp.mx-ta IN TLSA 2 0 0 {ca_der.hex()}\n"
        # Usage 1 (PKIX-EE) is not for SMTP (RFC 7672 3.1.3): TLS is
        # still required, but nothing authenticates it.
        dane += f"_25._tcp.mx-unusable IN TLSA 1 1 1 {good}\n"
        dane += f"mx-unusable-notls IN A {PLAIN}\n_25._tcp.mx-unusable-notls IN TLSA 1 1 1 {good}\n"
        for dom, mxs in (("good", ["mx-good"]), ("wrong", ["mx-wrong"]), ("notls", ["mx-notls"]),
                         ("failover", ["mx-wrong", "mx-good"]), ("ta", ["mx-ta"]), ("unusable", ["mx-unusable"]),
                         ("unusablenotls", ["mx-unusable-notls"])):
            for i, mx in enumerate(mxs):
                dane += f"{dom} IN MX {10 * (i + 1)} {mx}.dane.example.\n"
        bad = head + f"@ IN MX 10 mx.bad.example.\nmx IN A {PLAIN}\n_25._tcp.mx IN TLSA 3 1 1 {good}\n"
        plain = head + f"@ IN MX 10 mx.plain.example.\nmx IN A {PLAIN}\n_25._tcp.mx IN TLSA 3 1 1 {other}\n"
        for name, (mx, _) in STS.items():
            plain += f"{name} IN MX 10 {mx}.\n_mta-sts.{name} IN TXT \"v=STSv1; id=1;\"\n"
            plain += f"mta-sts.{name} IN A {HTTPS}\n"
        plain += f"rpt IN MX 20 mx-good.dane.example.\nmx.rptbad IN A {TLS_HOSTS['mx-wrong']}\n"
        plain += (f"_smtp._tls.rpt IN TXT \"v=TLSRPTv1; rua=mailto:{cls.bob.name}@b.test,"
                  f"https://mta-sts.rpt.plain.example/report\"\n")
        plain += "_smtp._tls.nofetch IN TXT \"v=TLSRPTv1; rua=https://mta-sts.nofetch.plain.example/report\"\n"
        # Names B's certificate does not carry, at a TLS smtpd.
        plain += f"mx.badcert IN A {TLS_HOSTS['mx-wrong']}\nmx.testing IN A {TLS_HOSTS['mx-wrong']}\n"
        anchors = []
        for name, text, sign in (("dane.example", dane, True), ("bad.example", bad, True), ("plain.example", plain, False)):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(f"$ORIGIN {name}.\n" + text)
            if not sign:
                continue
            key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=d, capture_output=True,
                                 text=True, check=True).stdout.strip()
            subprocess.run(["ldns-signzone", "-f", path + ".signed", path, key], cwd=d, check=True, capture_output=True)
            if name == "bad.example":
                # The anchor is another key's: nothing in bad.example validates.
                key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=d,
                                     capture_output=True, text=True, check=True).stdout.strip()
            anchors.append(open(os.path.join(d, key + ".ds")).read().strip())
        cls.anchors = "\n".join(anchors) + "\n"

    @classmethod
    def start_nsd(cls):
        d = os.path.join(cls.b.tmp, "nsd")
        os.makedirs(d)
        cls.zones(d)
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write(f'server:\n  ip-address: {DNS}\n  port: 53\n  username: ""\n  zonesdir: "{d}"\n'
                    f'  pidfile: "{d}/nsd.pid"\n  xfrdfile: "{d}/xfrd.state"\n  zonelistfile: "{d}/zone.list"\n'
                    f'  database: ""\n  logfile: "{d}/nsd.log"\n  chroot: ""\n'
                    "remote-control:\n  control-enable: no\n")
            for zone, file in (("dane.example", "dane.example.signed"), ("bad.example", "bad.example.signed"),
                               ("plain.example", "plain.example")):
                f.write(f"zone:\n  name: {zone}\n  zonefile: {file}\n")
        cls.nsdlog = os.path.join(d, "nsd.log")
        cls.nsd = subprocess.Popen(["ip", "netns", "exec", NS["H"], "nsd", "-d", "-c", conf],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        wait_for(lambda: f"{DNS}:53 " in sh("ip", "netns", "exec", NS["H"], "ss", "-lunH", check=False).stdout,
                 10, "NSD to listen")

    @classmethod
    def start_https(cls):
        """sts_server.py in the hub with a certificate from B's CA for
        every mta-sts.* name, serving STS's policies."""
        d = os.path.join(cls.b.tmp, "sts")
        os.makedirs(d)
        names = [f"mta-sts.{n}.plain.example" for n in STS]
        for n in STS:
            if STS[n][1] is None:
                continue
            with open(os.path.join(d, f"mta-sts.{n}.plain.example"), "w", newline="") as f:
                f.write(STS[n][1])
        ca_key = os.path.join(os.path.dirname(cls.ca), "ca.key")
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\nbasicConstraints=CA:FALSE\n")
        key, csr, crt = (os.path.join(d, n) for n in ("key.pem", "req.csr", "cert.pem"))
        openssl_der(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-subj", f"/CN={names[0]}", "-out", csr])
        openssl_der(["x509", "-req", "-in", csr, "-CA", cls.ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                     "-extfile", os.path.join(d, "ext"), "-out", crt])
        cls.sts_dir = d
        cls.https_log = os.path.join(d, "https.log")
        log = open(cls.https_log, "ab")
        here = os.path.dirname(os.path.abspath(__file__))
        cls.https = subprocess.Popen(["ip", "netns", "exec", NS["H"], "python3", os.path.join(here, "sts_server.py"),
                                      HTTPS, "443", crt, key, d], stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        assert cls.https.stdout.readline() == b"listening\n", "the HTTPS server did not start"

    @classmethod
    def tearDownClass(cls):
        for s in cls.smtpds:
            s.stop()
        if cls.https:
            os.killpg(cls.https.pid, signal.SIGKILL)
            cls.https.wait()
        if cls.nsd:
            try:
                os.killpg(cls.nsd.pid, signal.SIGTERM)
                cls.nsd.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(cls.nsd.pid, signal.SIGKILL)
        for inst in (cls.a, cls.b):
            if inst:
                inst.cleanup()
        for ns in NS.values():
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(f"/etc/netns/{NS['A']}", ignore_errors=True)
        remove_test_users()

    # -- helpers ---------------------------------------------------------------
    def send(self, domain, subject):
        to = f"{self.bob.name}@{domain}"
        p = self.a.inject(["-f", self.alice.address, to], f"To: {to}\nSubject: {subject}\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        return to

    def sent_line(self, to):
        return wait_for(lambda: [l for l in self.a.log().splitlines()
                                 if f"to=<{to}> channel=remote " in l and " status=sent " in l], 30,
                        f"delivery to {to} in A's log\n" + self.a.log()[-3000:])[0]

    def deferral(self, to, text):
        return wait_for(lambda: [l for l in self.a.log().splitlines()
                                 if f"to=<{to}> " in l and "status=deferred" in l and text in l], 30,
                        f"a deferral of {to} saying '{text}'\n" + self.a.log()[-3000:])[0]

    def in_b(self, subject):
        return [m for m in (read_message(f) for f in maildir_files(self.bob.maildir)) if m["Subject"] == subject]

    # -- the tests -------------------------------------------------------------
    def test_matching_dane_ee_record_verifies_the_self_chosen_key(self):
        to = self.send("good.dane.example", "dane good")
        line = self.sent_line(to)
        self.assertIn("mx-good.dane.example[10.79.0.10]", line)
        self.assertRegex(line, r"\(TLS TLSv1\.[23] [A-Z0-9_-]+, certificate verified by DANE TLSA 3 1 1\)")
        wait_for(lambda: self.in_b("dane good"), 20, "the message in B's Maildir")

    def test_dane_ta_record_verifies_the_chain_and_the_name(self):
        to = self.send("ta.dane.example", "dane ta")
        self.assertIn("certificate verified by DANE TLSA 2 0 0", self.sent_line(to))

    def test_wrong_certificate_makes_the_mail_wait(self):
        to = self.send("wrong.dane.example", "dane wrong")
        line = self.deferral(to, "sent a certificate that does not verify")
        self.assertIn("DANE: the TLSA records of _25._tcp.mx-wrong.dane.example", line)
        self.assertIn("(#4.7.5)", line)
        self.assertFalse(self.in_b("dane wrong"))
        self.assertIn(to, self.a.mailq())

    def test_no_starttls_makes_the_mail_wait(self):
        to = self.send("notls.dane.example", "dane notls")
        line = self.deferral(to, "does not offer STARTTLS")
        self.assertIn("DANE: the TLSA records of _25._tcp.mx-notls.dane.example", line)
        self.assertNotIn("dnbob@notls.dane.example", self.plain_smtpd.log())
        self.assertFalse(self.in_b("dane notls"))

    def test_next_mx_is_tried_when_one_fails_dane(self):
        to = self.send("failover.dane.example", "dane failover")
        self.assertIn("mx-good.dane.example[10.79.0.10]", self.sent_line(to))
        wait_for(lambda: self.in_b("dane failover"), 20, "the message in B's Maildir")

    def test_unusable_records_still_demand_tls(self):
        to = self.send("unusable.dane.example", "dane unusable")
        line = self.sent_line(to)
        self.assertRegex(line, r"\(TLS TLSv1\.[23] [A-Z0-9_-]+, certificate ")
        self.assertNotIn("DANE TLSA", line)
        # ... so a host that offers no STARTTLS gets nothing.
        to = self.send("unusablenotls.dane.example", "dane unusable notls")
        line = self.deferral(to, "does not offer STARTTLS")
        self.assertIn("DANE: the TLSA records of _25._tcp.mx-unusable-notls.dane.example, none usable", line)
        self.assertFalse(self.in_b("dane unusable notls"))

    def test_unsigned_domain_goes_as_under_may(self):
        # plain.example's TLSA record names another key, but its zone is not
        # signed: the record is not to be trusted, and the mail goes.
        to = self.send("plain.example", "dane plain")
        self.assertIn("(no TLS)", self.sent_line(to))
        wait_for(lambda: self.in_b("dane plain"), 20, "the message in B's Maildir")

    def test_bogus_answers_make_the_mail_wait(self):
        to = self.send("bad.example", "dane bogus")
        line = self.deferral(to, "fail DNSSEC validation")
        self.assertIn("The MX records of bad.example", line)
        self.assertFalse(self.in_b("dane bogus"))

    # -- MTA-STS -----------------------------------------------------------------
    def sts_log(self, domain):
        return wait_for(lambda: [l for l in self.a.log().splitlines() if f"MTA-STS policy of {domain}:" in l], 30,
                        f"A's MTA-STS line for {domain}\n" + self.a.log()[-3000:])

    def test_sts_enforce_verifies_a_listed_host(self):
        to = self.send("enforce.plain.example", "sts enforce")
        line = self.sent_line(to)
        self.assertIn("mx-good.dane.example[10.79.0.10]", line)
        self.assertRegex(line, r", certificate verified\)")
        self.assertIn("enforce (fetched, id 1)", self.sts_log("enforce.plain.example")[0])
        wait_for(lambda: self.in_b("sts enforce"), 20, "the message in B's Maildir")
        # The policy is cached, remote's own, for the next message.
        import pwd
        cache = os.path.join(self.a.home, "queue", "mtasts", "enforce.plain.example")
        st = os.stat(cache)
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "posternr")
        self.assertIn("mode: enforce", open(cache).read())
        # The policy served now says none; the id in DNS is the same, so the
        # cached policy stays in force and is not fetched again.
        with open(os.path.join(self.sts_dir, "mta-sts.enforce.plain.example"), "w") as f:
            f.write("version: STSv1\nmode: none\nmax_age: 86400\n")
        fetches = open(self.https_log).read().count("mta-sts.enforce.plain.example")
        to = self.send("enforce.plain.example", "sts enforce again")
        self.sent_line(to)
        wait_for(lambda: [l for l in self.sts_log("enforce.plain.example") if "enforce (cached)" in l], 10,
                 "the cached policy to be used")
        self.assertEqual(open(self.https_log).read().count("mta-sts.enforce.plain.example"), fetches)

    def test_sts_enforce_refuses_an_unlisted_host(self):
        to = self.send("unlisted.plain.example", "sts unlisted")
        line = self.deferral(to, "is not a mail host the policy of unlisted.plain.example (enforce) lists")
        self.assertIn("(#4.7.5)", line)
        self.assertFalse(self.in_b("sts unlisted"))

    def test_sts_enforce_makes_a_bad_certificate_wait(self):
        to = self.send("badcert.plain.example", "sts badcert")
        line = self.deferral(to, "sent a certificate that does not verify")
        self.assertIn("the MTA-STS policy of badcert.plain.example, enforce", line)
        self.assertFalse(self.in_b("sts badcert"))

    def test_sts_testing_mode_delivers(self):
        to = self.send("testing.plain.example", "sts testing")
        self.assertIn("certificate not verified", self.sent_line(to))
        self.assertIn("testing (fetched, id 1)", self.sts_log("testing.plain.example")[0])

    # -- TLS-RPT -----------------------------------------------------------------
    def test_tlsrpt_reports_the_day_by_mail_and_https(self):
        import datetime
        import gzip
        import json
        import pwd
        to = self.send("rpt.plain.example", "tlsrpt")
        self.assertIn("mx-good.dane.example[10.79.0.10]", self.sent_line(to))
        # A policy that cannot be fetched: the mail goes (no policy), the
        # failure is reported.
        to = self.send("nofetch.plain.example", "tlsrpt nofetch")
        self.sent_line(to)
        self.assertIn("none (fetch failed: ", self.sts_log("nofetch.plain.example")[0])
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        record = os.path.join(self.a.home, "queue", "tlsrpt", day, "rpt.plain.example")
        lines = wait_for(lambda: os.path.exists(record) and open(record).read().count("\n") >= 2 and
                         open(record).read().splitlines(), 20, "remote's records of the two sessions")
        self.assertEqual(pwd.getpwuid(os.stat(record).st_uid).pw_name, "posternr")
        self.assertEqual(sorted(l.split("\t")[1] for l in lines), ["success", "validation-failure"])

        pw = pwd.getpwnam("posternr")
        p = sh("ip", "netns", "exec", NS["A"], "setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
               "--init-groups", os.path.join(self.a.bin, "tlsrpt"), "-d", day, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("domain=rpt.plain.example", p.stderr)
        self.assertFalse(os.path.exists(record))

        # By mail: a multipart/report whose attachment is the gzip'd JSON.
        mail = wait_for(lambda: [m for m in (read_message(f) for f in maildir_files(self.bob.maildir))
                                 if (m["Subject"] or "").startswith("Report Domain: rpt.plain.example")], 30,
                        "the report in B's Maildir\n" + self.a.log()[-2000:])[0]
        self.assertEqual(mail["TLS-Report-Domain"], "rpt.plain.example")
        self.assertEqual(mail["TLS-Report-Submitter"], "a.test")
        self.assertEqual(mail.get_content_type(), "multipart/report")
        self.assertEqual(mail.get_param("report-type"), "tlsrpt")
        parts = [p for p in mail.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
        self.assertEqual(len(parts), 1)
        self.assertRegex(parts[0].get_filename(), r"^a\.test!rpt\.plain\.example!\d+!\d+!.+\.json\.gz$")
        report = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
        self.assertEqual(report["organization-name"], "a.test")
        self.assertEqual(report["date-range"]["start-datetime"], day + "T00:00:00Z")
        self.assertEqual(report["date-range"]["end-datetime"], day + "T23:59:59Z")
        [policy] = report["policies"]
        self.assertEqual(policy["policy"]["policy-type"], "sts")
        self.assertEqual(policy["policy"]["policy-domain"], "rpt.plain.example")
        self.assertIn("mode: enforce", policy["policy"]["policy-string"])
        self.assertEqual(policy["policy"]["mx-host"], ["mx-good.dane.example"])
        self.assertEqual(policy["summary"], {"total-successful-session-count": 1, "total-failure-session-count": 1})
        [failure] = policy["failure-details"]
        self.assertEqual(failure["result-type"], "validation-failure")
        self.assertEqual(failure["receiving-mx-hostname"], "mx.rptbad.plain.example")
        self.assertEqual(failure["failed-session-count"], 1)

        # By HTTPS: the same report, posted as application/tlsrpt+gzip.
        posted = os.path.join(self.sts_dir, "posted-mta-sts.rpt.plain.example-0.gz")
        self.assertEqual(open(posted + ".type").read(), "application/tlsrpt+gzip")
        self.assertEqual(json.loads(gzip.decompress(open(posted, "rb").read())), report)
        nofetch = json.loads(gzip.decompress(open(os.path.join(
            self.sts_dir, "posted-mta-sts.nofetch.plain.example-0.gz"), "rb").read()))
        [policy] = nofetch["policies"]
        self.assertEqual(policy["policy"]["policy-type"], "sts")
        self.assertEqual(policy["summary"], {"total-successful-session-count": 0, "total-failure-session-count": 1})
        self.assertEqual(policy["failure-details"][0]["result-type"], "sts-policy-fetch-error")
        self.assertIn("HTTP status 404", policy["failure-details"][0]["failure-reason-code"])


if __name__ == "__main__":
    unittest.main()
