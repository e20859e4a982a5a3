"""A site of several hosts, each a network namespace with a postern of its
own (root only): two MX hosts, two mailbox hosts, an IMAP/POP3 proxy, an
outside sender, and a hub with DNS (dnsmasq) and the user directory
(OpenLDAP's slapd).

    H    10.78.0.1  bridge; dnsmasq (MX example.test: mx1 10, mx2 20); slapd
    OUT  10.78.0.2  out.test: a postern that sends from outside, by MX
    MX1  10.78.0.3  mx1: example.test is local, the directory routes each
                    user's mail to the mailbox host it names (mailHost)
    MX2  10.78.0.4  mx2: the backup MX, relaying example.test (it holds
                    mail while mx1 is down and hands it over later)
    MB1  10.78.0.5  mb1: smtpd, imapd, pop3d; alice lives here
    MB2  10.78.0.6  mb2: the same; bob and carol live here
    PX   10.78.0.7  nginx's mail proxy (IMAP, POP3), asking authhttp

The users exist only in the directory: uidNumbers with no passwd entry,
homes on their mailbox host, passwords as {SSHA} hashes that slapd checks."""
import os
import shutil
import subprocess
import time
import unittest

from cluster_hosts import LdapServer, NginxMailProxy, NsServer, hashed, stop_group
from harness import Instance, make_env, maildir_files, read_message, remove_test_users, sh, wait_for
from test_remote_dns import NsInstance, NsSmtpd, build_network, why_no_netns

TAG = f"pq{os.getpid() % 100000}"
NS = {k: f"{TAG}{k}" for k in ("H", "OUT", "MX1", "MX2", "MB1", "MB2", "PX")}
ADDR = {"H": "10.78.0.1", "OUT": "10.78.0.2", "MX1": "10.78.0.3", "MX2": "10.78.0.4", "MB1": "10.78.0.5",
        "MB2": "10.78.0.6", "PX": "10.78.0.7"}
HOSTS = {"out.test": ADDR["OUT"], "mx1.example.test": ADDR["MX1"], "mx2.example.test": ADDR["MX2"],
         "mb1.example.test": ADDR["MB1"], "mb2.example.test": ADDR["MB2"], "proxy.example.test": ADDR["PX"]}
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
HOME_OF = {"alice": "MB1", "bob": "MB2", "carol": "MB2"}
REASON = why_no_netns()
if not REASON:
    for tool in ("slapd", "slapadd", "slappasswd", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            REASON = f"no {tool}"
    if not os.path.exists("/usr/lib/nginx/modules/ngx_mail_module.so"):
        REASON = "no nginx mail module (libnginx-mod-mail)"


def free_uid(start):
    import pwd
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
            uid += 1
        except KeyError:
            return uid


def ns_python(ns, code, *args, timeout=60):
    """Runs Python code in namespace ns; its stdout, or raises with stderr."""
    p = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code, *args], capture_output=True, text=True,
                       timeout=timeout, env=make_env(), cwd="/")
    if p.returncode != 0:
        raise AssertionError(f"in {ns}: {p.stderr[-2000:]}")
    return p.stdout


SMTP_RCPT = """
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, timeout=30)
s.ehlo("out.test")
s.mail("probe@out.test")
for r in sys.argv[2:]:
    code, text = s.rcpt(r)
    print(code, text.decode())
s.quit()
"""

IMAP_READ = """
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], 143, timeout=30)
try:
    m.login(sys.argv[2], sys.argv[3])
except imaplib.IMAP4.error as e:
    print("refused", e)
    sys.exit(0)
typ, data = m.select("INBOX", readonly=True)
print("count", int(data[0]))
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for item in data:
    if isinstance(item, tuple):
        print("subject", item[1].decode().strip()[8:].strip())
m.logout()
"""

POP3_READ = """
import poplib, sys
p = poplib.POP3(sys.argv[1], 110, timeout=30)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
count, size = p.stat()
print("count", count)
for i in range(1, count + 1):
    for line in p.top(i, 0)[1]:
        if line.lower().startswith(b"subject:"):
            print("subject", line.decode()[8:].strip())
p.quit()
"""


@unittest.skipIf(REASON, REASON)
class Cluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.insts, cls.servers, cls.dnsmasq, cls.ldap, cls.nginx = {}, [], None, None, None
        try:
            build_network(NS, "H", [f"{ADDR['H']}/24"], {k: [f"{a}/24"] for k, a in ADDR.items() if k != "H"},
                          "OUT", ADDR["H"])
            for k in ADDR:
                if k not in ("H", "OUT"):
                    os.makedirs(f"/etc/netns/{NS[k]}", exist_ok=True)
                    shutil.copy(f"/etc/netns/{NS['OUT']}/resolv.conf", f"/etc/netns/{NS[k]}/resolv.conf")
            cls.start_dnsmasq()
            cls.make_hosts()
            cls.ldap = LdapServer(cls.insts["MX1"].tmp, NS["H"], ADDR["H"], cls.directory_entries())
            cls.start_servers()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start_dnsmasq(cls):
        cls.dnslog = f"/tmp/{TAG}-dnsmasq.log"
        cmd = ["ip", "netns", "exec", NS["H"], "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
               f"--listen-address={ADDR['H']}", "--bind-interfaces", "--port=53", "--local=/test/",
               f"--pid-file=/tmp/{TAG}-dnsmasq.pid", f"--log-facility={cls.dnslog}"]
        cmd += [f"--host-record={h},{a}" for h, a in HOSTS.items()]
        cmd += ["--mx-host=example.test,mx1.example.test,10", "--mx-host=example.test,mx2.example.test,20"]
        cls.dnsmasq = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        code = "import socket,sys; print(socket.gethostbyname(sys.argv[1]))"
        wait_for(lambda: subprocess.run(["ip", "netns", "exec", NS["OUT"], "python3", "-c", code, "mx1.example.test"],
                                        capture_output=True, text=True).stdout.strip() == ADDR["MX1"], 10,
                 "dnsmasq to answer")

    @classmethod
    def make_hosts(cls):
        directory = ["ldap://10.78.0.1/", "dc=example,dc=test"]
        for key, me in (("OUT", "out.test"), ("MX1", "mx1.example.test"), ("MX2", "mx2.example.test"),
                        ("MB1", "mb1.example.test"), ("MB2", "mb2.example.test"), ("PX", "proxy.example.test")):
            inst = NsInstance()
            inst.netns = NS[key]
            cls.insts[key] = inst
            inst.me = me
            inst.control("me", me)
            inst.control("timeoutconnect", "3")
            inst.control("timeoutremote", "30")
            if key == "OUT":
                inst.control("locals", "out.test")
                inst.control("rcpthosts", "out.test")
            elif key == "MX2":  # the backup MX: relays example.test, delivers none of it
                inst.control("locals", me)
                inst.control("rcpthosts", "example.test")
            else:
                inst.control("locals", "example.test")
                inst.control("rcpthosts", "example.test")
                inst.control("ldapserver", directory[0])
                inst.control("ldapbasedn", directory[1])
                inst.control("plaintextlogin", "1")  # behind the proxy, on the site's own network
        cls.sender = cls.insts["OUT"].add_user("csender")
        cls.accounts = {}
        uid = free_uid(61000)
        for name, key in HOME_OF.items():
            uid = free_uid(uid + 1)
            home = os.path.join(cls.insts[key].tmp, "vmail", name)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(home, "Maildir", sub))
            os.chmod(os.path.dirname(home), 0o755)
            for dirpath, _, _ in os.walk(home):
                os.chown(dirpath, uid, uid)
            os.chmod(home, 0o700)
            cls.accounts[name] = (uid, home)

    @classmethod
    def directory_entries(cls):
        out = ["dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example\n",
               "dn: ou=people,dc=example,dc=test\nobjectClass: organizationalUnit\nou: people\n"]
        for name, (uid, home) in cls.accounts.items():
            out.append(f"dn: uid={name},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\n"
                       "objectClass: posixAccount\nobjectClass: inetLocalMailRecipient\n"
                       f"cn: {name}\nsn: {name}\nuid: {name}\nuidNumber: {uid}\ngidNumber: {uid}\n"
                       f"homeDirectory: {home}\nmail: {name}@example.test\n"
                       f"mailHost: {HOME_OF[name].lower()}.example.test\nuserPassword: {hashed(PASSWORDS[name])}\n")
        out.append("dn: cn=team@example.test,ou=people,dc=example,dc=test\nobjectClass: nisMailAlias\n"
                   "cn: team@example.test\nrfc822MailMember: alice@example.test\nrfc822MailMember: bob@example.test\n")
        return "\n".join(out)

    @classmethod
    def start_servers(cls):
        for key, inst in cls.insts.items():
            if key != "PX":
                inst.start()
        cls.smtpd = {}
        for key in ("MX1", "MX2", "MB1", "MB2"):
            cls.smtpd[key] = NsSmtpd(cls.insts[key], NS[key], ADDR[key])
            cls.servers.append(cls.smtpd[key])
        cls.mailbox_servers = {}
        for key in ("MB1", "MB2"):
            inst = cls.insts[key]
            for prog, port in (("imapd", 143), ("pop3d", 110)):
                s = NsServer(NS[key], ADDR[key], port, [os.path.join(inst.bin, prog)],
                             os.path.join(inst.tmp, f"{prog}.log"))
                cls.servers.append(s)
                cls.mailbox_servers[(key, prog)] = s
        px = cls.insts["PX"]
        cls.authhttp = NsServer(NS["PX"], "127.0.0.1", 9000, [os.path.join(px.bin, "authhttp")],
                                os.path.join(px.tmp, "authhttp.log"))
        cls.servers.append(cls.authhttp)
        cls.nginx = NginxMailProxy(px.tmp, NS["PX"], ADDR["PX"], "http://127.0.0.1:9000/auth")

    @classmethod
    def tearDownClass(cls):
        if cls.nginx:
            cls.nginx.stop()
        for s in cls.servers:
            s.stop()
        if cls.ldap:
            cls.ldap.stop()
        for inst in cls.insts.values():
            inst.cleanup()
        stop_group(cls.dnsmasq)
        for ns in NS.values():
            sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        for f in (f"/tmp/{TAG}-dnsmasq.pid", f"/tmp/{TAG}-dnsmasq.log"):
            if os.path.exists(f):
                os.unlink(f)
        remove_test_users()

    # -- helpers -------------------------------------------------------------
    def maildir(self, name):
        return os.path.join(self.accounts[name][1], "Maildir")

    def count(self, name):
        return len(maildir_files(self.maildir(name)))

    def send_from_outside(self, rcpts, subject):
        p = self.insts["OUT"].inject(["-f", self.sender.address] + rcpts,
                                     f"From: {self.sender.address}\nTo: {', '.join(rcpts)}\nSubject: {subject}\n\n"
                                     "Hello from outside.\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def wait_subject(self, name, subject, timeout=60):
        def found():
            return [f for f in maildir_files(self.maildir(name)) if f"Subject: {subject}" in
                    read_message(f).as_string()]
        logs = "\n".join(f"--- {k}\n{i.log()[-1500:]}" for k, i in self.insts.items())
        return wait_for(found, timeout, f"{subject} for {name}\n{logs}")

    def settle(self):
        for key in ("OUT", "MX1", "MX2", "MB1", "MB2"):
            self.insts[key].wait_queue_empty(60)

    # -- the tests, in order -------------------------------------------------
    def test_1_mail_from_outside_reaches_each_user_once_on_their_mailbox_host(self):
        before = {n: self.count(n) for n in PASSWORDS}
        self.send_from_outside(["alice@example.test", "bob@example.test"], "cluster one")
        self.wait_subject("alice", "cluster one")
        self.wait_subject("bob", "cluster one")
        self.settle()
        time.sleep(1)
        self.assertEqual(self.count("alice"), before["alice"] + 1)
        self.assertEqual(self.count("bob"), before["bob"] + 1)
        self.assertEqual(self.count("carol"), before["carol"])
        # mx1 took it from outside and sent each user's copy to that user's host.
        mx1 = self.insts["MX1"].log()
        self.assertIn("mailbox host mb1.example.test", mx1)
        self.assertIn("mailbox host mb2.example.test", mx1)
        mb1, mb2 = self.insts["MB1"].log(), self.insts["MB2"].log()
        self.assertIn("to=<alice@example.test> channel=local", mb1)
        self.assertNotIn("alice@example.test", mb2)
        self.assertIn("to=<bob@example.test> channel=local", mb2)
        self.assertNotIn("bob@example.test", mb1)
        # The delivery ran as the directory's uidNumber: the file is alice's.
        newest = maildir_files(self.maildir("alice"))[-1]
        self.assertEqual(os.stat(newest).st_uid, self.accounts["alice"][0])

    def test_2_a_directory_alias_reaches_its_members(self):
        self.send_from_outside(["team@example.test"], "cluster team")
        self.wait_subject("alice", "cluster team")
        self.wait_subject("bob", "cluster team")

    def test_3_unknown_recipients_are_refused_at_the_mx(self):
        out = ns_python(NS["OUT"], SMTP_RCPT, ADDR["MX1"], "nosuchname@example.test", "carol@example.test",
                        "carol-list@example.test")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("550 5.1.1"), out)
        self.assertTrue(lines[1].startswith("250"), out)
        self.assertTrue(lines[2].startswith("250"), out)  # an extension of carol's

    def test_4_the_backup_mx_holds_mail_and_hands_it_over(self):
        self.smtpd["MX1"].stop()
        try:
            self.send_from_outside(["bob@example.test"], "cluster backup")
            mx2 = self.insts["MX2"]
            wait_for(lambda: mx2.queue_count() == 1 and "status=deferred" in mx2.log(), 60,
                     "mx2 to hold the message\n" + mx2.log()[-2000:] + self.insts["OUT"].log()[-2000:])
            self.assertEqual(mx2.queue_count(), 1)
            self.assertFalse([f for f in maildir_files(self.maildir("bob"))
                              if "cluster backup" in read_message(f).as_string()])
        finally:
            self.smtpd["MX1"] = NsSmtpd(self.insts["MX1"], NS["MX1"], ADDR["MX1"])
            self.servers.append(self.smtpd["MX1"])
        self.insts["MX2"].retry()
        found = self.wait_subject("bob", "cluster backup")
        self.assertEqual(len(found), 1)
        text = read_message(found[0]).as_string()
        self.assertIn("mx2.example.test", text)  # its Received: line: it came through the backup
        self.settle()

    def test_5_a_directory_outage_defers_and_bounces_nothing(self):
        before = len(maildir_files(self.sender.maildir))
        self.ldap.stop()
        try:
            out = ns_python(NS["OUT"], SMTP_RCPT, ADDR["MX1"], "carol@example.test")
            self.assertTrue(out.startswith("451 4.3.0"), out)
            self.assertIn("the user directory", self.smtpd["MX1"].log())
            # A message already taken waits in mx1's queue.
            mx1 = self.insts["MX1"]
            p = mx1.inject(["-f", self.sender.address, "carol@example.test"],
                           f"From: {self.sender.address}\nSubject: cluster outage\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            wait_for(lambda: "unable to ask the user directory" in mx1.log(), 30, "mx1 to defer\n" + mx1.log()[-2000:])
            self.assertEqual(mx1.queue_count(), 1)
        finally:
            self.ldap.start()
        self.insts["MX1"].retry()
        self.wait_subject("carol", "cluster outage")
        self.settle()
        self.assertEqual(len(maildir_files(self.sender.maildir)), before)  # no bounce came back

    def test_6_imap_and_pop3_through_the_proxy_reach_the_users_host(self):
        out = ns_python(NS["OUT"], IMAP_READ, ADDR["PX"], "alice", PASSWORDS["alice"])
        self.assertIn("subject cluster one", out)
        self.assertIn("count ", out)
        self.assertIn("alice from 10.78.0.7: logged in", self.mailbox_servers[("MB1", "imapd")].log())
        self.assertNotIn("alice", self.mailbox_servers[("MB2", "imapd")].log())
        out = ns_python(NS["OUT"], POP3_READ, ADDR["PX"], "bob", PASSWORDS["bob"])
        self.assertIn("subject cluster one", out)
        self.assertIn("subject cluster backup", out)
        self.assertIn("bob from 10.78.0.7", self.mailbox_servers[("MB2", "pop3d")].log())
        self.assertIn("to mb1.example.test [10.78.0.5]:143", self.authhttp.log())
        self.assertIn("to mb2.example.test [10.78.0.6]:110", self.authhttp.log())
        out = ns_python(NS["OUT"], IMAP_READ, ADDR["PX"], "alice", "wrong")
        self.assertIn("refused", out)
        self.assertIn("login refused for alice", self.authhttp.log())


if __name__ == "__main__":
    unittest.main()
