"""MX routing against a real DNS server: dnsmasq, with A's resolver
pointed at it through network namespaces (root only).

    netns H (hub)  bridge 10.77.0.1/24, dnsmasq on 10.77.0.1:53
    netns A        10.77.0.2   instance A's whole system (start ...), with
                               /etc/netns/A/resolv.conf -> 10.77.0.1
    netns B1       10.77.0.3   tcpserver+smtpd of instance B on port 25
                   10.77.0.5   (nothing listens: connections are refused)
    netns B2       10.77.0.4   tcpserver+smtpd of instance B on port 25

B's smtpds are in namespaces of their own, so that A's "this host is an
MX" check (its interface addresses) sees only 10.77.0.2 and 127.0.0.1.
Which MX took a message is told by which smtpd logged it."""
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import Instance, make_env, maildir_files, read_message, remove_test_users, wait_for, IS_ROOT, sh

TAG = f"pt{os.getpid() % 100000}"
NS = {k: f"{TAG}{k}" for k in ("H", "A", "B1", "B2")}
HOSTS = {
    "mx1.mail.test": "10.77.0.3",
    "mx2.mail.test": "10.77.0.4",
    "mxdown.mail.test": "10.77.0.5",
    "self.mail.test": "10.77.0.2",
    "implicit.test": "10.77.0.4",
    "mx6.mail.test": "fd77::4",  # AAAA only
}
MX = [
    ("pref.test", "mx2.mail.test", 10), ("pref.test", "mx1.mail.test", 20),  # the lower preference wins
    ("fallback.test", "mxdown.mail.test", 10), ("fallback.test", "mx2.mail.test", 20),
    ("six.test", "mx6.mail.test", 10),  # an MX with only an IPv6 address
    ("loop.test", "self.mail.test", 10),  # A is the best MX: a loop
    # A is MX 20: only MX 10 (refused) may be used, never MX 30.
    ("below.test", "mxdown.mail.test", 10), ("below.test", "self.mail.test", 20), ("below.test", "mx2.mail.test", 30),
]
B_DOMAINS = ["pref.test", "fallback.test", "implicit.test", "below.test", "big.test"]
BIGDNS = "10.77.0.6"  # bigdns.py, in the hub: the 64 KiB MX answer for big.test


def why_no_netns():
    if not IS_ROOT:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "no ip(8) (iproute2)"
    if not shutil.which("dnsmasq"):
        return "no dnsmasq"
    probe = f"{TAG}probe"
    p = sh("ip", "netns", "add", probe, check=False)
    if p.returncode != 0:
        return "ip netns add failed: " + p.stderr.strip()
    p = sh("ip", "netns", "exec", probe, "ip", "link", "add", "br0", "type", "bridge", check=False)
    q = sh("ip", "netns", "exec", probe, "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb", check=False)
    sh("ip", "netns", "del", probe, check=False)
    if p.returncode != 0:
        return "cannot create a bridge in a network namespace: " + p.stderr.strip()
    if q.returncode != 0:
        return "cannot create a veth pair in a network namespace: " + q.stderr.strip()
    return None


class NsInstance(Instance):
    """An instance whose whole system (start: send, lspawn, rspawn,
    remote...) runs inside a network namespace."""

    netns = None

    def start(self):
        starts = self.log().count("status: started")
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, os.path.join(self.bin, "start"),
                                      self.delivery], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=make_env(), cwd="/")
        log.close()
        wait_for(lambda: self.log().count("status: started") > starts, 10, "send to start\n" + self.log()[-2000:])


class NsSmtpd:
    """tcpserver+smtpd of inst on address:25 inside a network namespace;
    with tls, behind tlsd (STARTTLS with inst's control/tls/default.pem),
    as the boot files run port 25."""

    def __init__(self, inst, netns, address, tls=False):
        self.logfile = os.path.join(inst.tmp, f"smtpd-{address}.log")
        import pwd
        pw = pwd.getpwnam("posternd")
        if tls:
            prog = [address, "25", os.path.join(inst.bin, "tlsd"), "-u", "posternd", os.path.join(inst.bin, "smtpd")]
        else:
            prog = ["-u", str(pw.pw_uid), "-g", str(pw.pw_gid), address, "25", os.path.join(inst.bin, "smtpd")]
        cmd = ["ip", "netns", "exec", netns, "tcpserver", "-R", "-H", "-l", "0"] + prog
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=make_env(), cwd="/")
        log.close()
        wait_for(lambda: f"{address}:25 " in sh("ip", "netns", "exec", netns, "ss", "-ltnH", check=False).stdout,
                 10, f"tcpserver on {address}:25")

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


class NsFakeSmtp:
    """test_remote's scripted SMTP server on [address]:25 inside a network
    namespace (ucspi-tcp's tcpserver has no IPv6), writing the sessions it
    saw to a JSON file after each one."""

    def __init__(self, netns, address, record):
        self.record = record
        here = os.path.dirname(os.path.abspath(__file__))
        code = ("import json,sys,time\n"
                f"sys.path.insert(0, {here!r})\n"
                "from test_remote import FakeSmtp\n"
                f"f = FakeSmtp(host={address!r}, port=25)\n"
                "def dump(sessions):\n"
                f"    json.dump([{{'commands': s['commands'], 'data': (s['data'] or b'').decode('latin-1')}} for s in sessions], open({record!r}, 'w'))\n"
                "f.on_session = dump\n"
                "print('listening', flush=True)\n"
                "time.sleep(100000)\n")
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, "python3", "-c", code], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(), cwd="/")
        assert self.proc.stdout.readline() == b"listening\n", "the IPv6 SMTP peer did not start"

    def sessions(self):
        import json
        try:
            with open(self.record) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return []

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def build_network(ns, hub_key, hub_addresses, members, resolver_of, nameserver):
    """The namespaces of ns (key -> name), each with lo up; a bridge br0
    in ns[hub_key] with hub_addresses; for each key of members a veth into
    the bridge, eth0 there with its addresses; and resolv.conf of
    ns[resolver_of] naming nameserver. tearDownClass deletes them."""
    os.makedirs(f"/etc/netns/{ns[resolver_of]}", exist_ok=True)
    with open(f"/etc/netns/{ns[resolver_of]}/resolv.conf", "w") as f:
        f.write(f"nameserver {nameserver}\noptions timeout:2 attempts:2\n")
    for name in ns.values():
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
    hub = ns[hub_key]
    sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
    for a in hub_addresses:
        sh("ip", "-n", hub, "addr", "add", a, "dev", "br0")
    sh("ip", "-n", hub, "link", "set", "br0", "up")
    for key, addrs in members.items():
        name = ns[key]
        sh("ip", "-n", hub, "link", "add", f"h{key}", "type", "veth", "peer", "name", "eth0", "netns", name)
        sh("ip", "-n", hub, "link", "set", f"h{key}", "master", "br0")
        sh("ip", "-n", hub, "link", "set", f"h{key}", "up")
        for a in addrs:
            sh("ip", "-n", name, "addr", "add", a, "dev", "eth0", *(["nodad"] if ":" in a else []))
        sh("ip", "-n", name, "link", "set", "eth0", "up")


REASON = why_no_netns()


@unittest.skipIf(REASON, REASON)
class RemoteDns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = cls.dnsmasq = None
        cls.smtpds = []
        try:
            cls.network()
            cls.start_dnsmasq()
            b = cls.b = Instance()
            b.control("me", "b.test")
            b.control("locals", "\n".join(["b.test", "localhost"] + B_DOMAINS))
            b.control("rcpthosts", "\n".join(["b.test"] + B_DOMAINS))
            b.me = "b.test"
            cls.bob = b.add_user("dbob")
            p = b.run("newrcpt", [])
            assert p.returncode == 0, p.stderr
            b.start()
            cls.mx1 = NsSmtpd(b, NS["B1"], "10.77.0.3")
            cls.mx2 = NsSmtpd(b, NS["B2"], "10.77.0.4")
            cls.smtpds = [cls.mx1, cls.mx2]
            cls.six = NsFakeSmtp(NS["B2"], "fd77::4", os.path.join(b.tmp, "six.json"))
            cls.smtpds.append(cls.six)
            a = cls.a = NsInstance()
            a.netns = NS["A"]
            a.control("me", "a.test")
            a.control("locals", "a.test\nlocalhost")
            a.control("rcpthosts", "a.test")
            a.control("timeoutconnect", "3")
            a.control("timeoutremote", "20")
            a.me = "a.test"
            cls.alice = a.add_user("dalice")
            a.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def network(cls):
        build_network(NS, "H", ["10.77.0.1/24", f"{BIGDNS}/24"],
                      {"A": ["10.77.0.2/24", "fd77::2/64"], "B1": ["10.77.0.3/24", "10.77.0.5/24"],
                       "B2": ["10.77.0.4/24", "fd77::4/64"]}, "A", "10.77.0.1")

    @classmethod
    def start_dnsmasq(cls):
        cls.dnslog = f"/tmp/{TAG}-dnsmasq.log"
        cmd = ["ip", "netns", "exec", NS["H"], "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv",
               "--no-hosts", "--listen-address=10.77.0.1", "--bind-interfaces", "--port=53", "--local=/test/",
               f"--pid-file=/tmp/{TAG}-dnsmasq.pid", "--log-queries", f"--log-facility={cls.dnslog}"]
        cmd += [f"--host-record={h},{a}" for h, a in HOSTS.items()]
        cmd += [f"--mx-host={d},{h},{p}" for d, h, p in MX]
        # RFC 7505 null MX: preference 0, the root name. dnsmasq's --mx-host
        # cannot name the root, so the record is given raw (type 15).
        cmd += ["--dns-rr=nullmx.test,15,000000"]
        cls.dnsmasq = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: cls.resolve("mx1.mail.test") == ["10.77.0.3"], 10,
                 "dnsmasq to answer in the namespace")

    @classmethod
    def resolve(cls, name):
        """The IPv4 addresses of name as the C library finds them inside A's
        namespace (so through its resolv.conf and dnsmasq)."""
        code = ("import socket,sys\n"
                "try: print('\\n'.join(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 25, socket.AF_INET)})))\n"
                "except OSError as e: print('error', e)\n")
        p = sh("ip", "netns", "exec", NS["A"], "python3", "-c", code, name, check=False)
        return p.stdout.split("\n")[:-1]

    @classmethod
    def tearDownClass(cls):
        for s in cls.smtpds:
            s.stop()
        for inst in (cls.a, cls.b):
            if inst:
                inst.cleanup()
        if cls.dnsmasq:
            try:
                os.killpg(cls.dnsmasq.pid, signal.SIGTERM)
                cls.dnsmasq.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(cls.dnsmasq.pid, signal.SIGKILL)
        for ns in NS.values():
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(f"/etc/netns/{NS['A']}", ignore_errors=True)
        for f in (f"/tmp/{TAG}-dnsmasq.pid", f"/tmp/{TAG}-dnsmasq.log"):
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        remove_test_users()

    # -- helpers -------------------------------------------------------------
    def send(self, to, subject):
        p = self.a.inject(["-f", self.alice.address, to], f"To: {to}\nSubject: {subject}\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def delivered_to_bob(self, subject):
        def find():
            return [m for m in (read_message(f) for f in maildir_files(self.bob.maildir)) if m["Subject"] == subject]
        return wait_for(find, 30, f"'{subject}' in B's Maildir\nA's log:\n" + self.a.log()[-3000:])[0]

    def bounce_for(self, subject, timeout=30):
        def find():
            return [m for m in (read_message(f) for f in maildir_files(self.alice.maildir))
                    if m["Subject"] == "failure notice" and f"Subject: {subject}\n" in m.as_string()]
        return wait_for(find, timeout, f"a bounce for '{subject}'\nA's log:\n" + self.a.log()[-3000:])[0]

    def success_line(self, to):
        return wait_for(lambda: [l for l in self.a.log().splitlines()
                                 if f"to=<{to}> channel=remote " in l and " status=sent " in l], 30,
                        f"delivery to {to} in A's log\n" + self.a.log()[-3000:])[0]

    # -- the tests -------------------------------------------------------------
    def test_dns_answers(self):
        """The zone as A's namespace sees it (sanity for the rest)."""
        self.assertEqual(self.resolve("implicit.test"), ["10.77.0.4"])
        self.assertEqual(self.resolve("mx2.mail.test"), ["10.77.0.4"])

    def test_lowest_preference_mx_gets_it(self):
        to = f"{self.bob.name}@pref.test"
        before = self.mx2.log().count("accepted client=10.77.0.2 ")
        for i in range(3):  # not by chance
            self.send(to, f"by preference {i}")
        for i in range(3):
            self.delivered_to_bob(f"by preference {i}")
        line = self.success_line(to)
        self.assertIn("Remote host mx2.mail.test[10.77.0.4] said: 250", line)
        self.assertFalse([l for l in self.a.log().splitlines()
                          if f"to=<{to}> " in l and " status=sent " in l and "Remote host mx1" in l], self.a.log())
        self.assertEqual(self.mx2.log().count("accepted client=10.77.0.2 ") - before, 3, self.mx2.log())
        self.assertNotIn(" accepted client=", self.mx1.log())

    def test_fallback_when_first_mx_refuses(self):
        to = f"{self.bob.name}@fallback.test"
        self.send(to, "fall back")
        msg = self.delivered_to_bob("fall back")
        self.assertIn("from a.test ([10.77.0.2])", str(msg.get_all("Received")[1]))
        self.assertIn("Remote host mx2.mail.test[10.77.0.4] said: 250", self.success_line(to))
        self.assertEqual(self.a.run("tcpto", []).stdout.decode(), "", "a refusal is not a timeout")

    def test_implicit_mx(self):
        to = f"{self.bob.name}@implicit.test"
        self.send(to, "implicit")
        self.delivered_to_bob("implicit")
        self.assertIn("Remote host implicit.test[10.77.0.4] said: 250", self.success_line(to))

    def test_null_mx_bounces_at_once(self):
        to = "anyone@nullmx.test"
        started = time.time()
        self.send(to, "null mx")
        bounce = self.bounce_for("null mx")
        self.assertLess(time.time() - started, 20)
        report = bounce.as_string()
        self.assertIn(f"Final-Recipient: rfc822; {to}", report)
        self.assertIn("Status: 5.1.10", report)
        self.assertIn("does not accept mail (null MX). (#5.1.10)", report)

    def test_mx_with_only_an_ipv6_address(self):
        to = "v6@six.test"
        self.send(to, "over ipv6")
        line = self.success_line(to)
        self.assertIn("Remote host mx6.mail.test[fd77::4] said: 250", line)
        # remote does not wait for the reply to QUIT: the peer records the
        # session a moment after A has logged the delivery.
        sessions = wait_for(lambda: self.six.sessions(), 10, "the IPv6 peer's record")
        self.assertEqual(len(sessions), 1)
        self.assertIn("RCPT TO:<v6@six.test>", sessions[0]["commands"])
        self.assertIn("Subject: over ipv6\r\n", sessions[0]["data"])

    def test_nonexistent_domain_bounces(self):
        self.send("x@nosuch.test", "no such domain")
        report = self.bounce_for("no such domain").as_string()
        self.assertIn("Status: 5.1.2", report)
        self.assertIn("couldn't find any host named nosuch.test", report)

    def test_this_host_best_mx_is_a_loop(self):
        self.send("x@loop.test", "loop")
        report = self.bounce_for("loop").as_string()
        self.assertIn("Status: 5.4.6", report)
        self.assertIn("a mail loop", report)

    def test_only_mx_better_than_this_host_are_used(self):
        to = f"{self.bob.name}@below.test"
        self.send(to, "below")
        q = wait_for(lambda: "establish an SMTP connection" in self.a.mailq() and self.a.mailq(), 30,
                     "a deferral in A's mailq\n" + self.a.log()[-2000:])
        self.assertIn("mxdown.mail.test[10.77.0.5]", q)
        time.sleep(1)
        self.assertNotIn("below", "".join(m["Subject"] for m in (read_message(f) for f in
                                                                   maildir_files(self.bob.maildir))))

    def test_64k_mx_answer_does_not_crash_remote(self):
        """An MX answer of about 64 KiB (hundreds of records, over TCP after
        a truncated UDP answer): remote must neither read past its buffer
        nor crash, and uses the records it parsed (the best MX, B2)."""
        here = os.path.dirname(os.path.abspath(__file__))
        dns = subprocess.Popen(["ip", "netns", "exec", NS["H"], "python3", os.path.join(here, "bigdns.py"), BIGDNS,
                                "10.77.0.4"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               start_new_session=True, env=make_env(), cwd="/")
        conf = f"/etc/netns/{NS['A']}/resolv.conf"
        with open(conf) as f:
            saved = f.read()
        try:
            self.assertEqual(dns.stdout.readline(), b"listening\n", "bigdns.py did not start")
            # Rewritten in place: A's namespace has this file bind-mounted
            # as /etc/resolv.conf, and each remote reads it afresh.
            with open(conf, "w") as f:
                f.write(f"nameserver {BIGDNS}\noptions timeout:2 attempts:2\n")
            to = f"{self.bob.name}@big.test"
            self.send(to, "big answer")
            self.delivered_to_bob("big answer")
            self.assertIn("Remote host mx.big.test[10.77.0.4] said: 250", self.success_line(to))
            self.assertNotIn("remote ended without a result", self.a.log())
        finally:
            with open(conf, "w") as f:
                f.write(saved)
            os.killpg(dns.pid, signal.SIGKILL)
            dns.wait()
            dns.stdout.close()


if __name__ == "__main__":
    unittest.main()
