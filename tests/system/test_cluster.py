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
    PX   10.78.0.7  nginx's mail proxy (IMAP, POP3), asking authhttp;
                    HAProxy for SMTP to mx1:2525 (proxy-env, PROXY v2)

The users exist only in the directory: uidNumbers with no passwd entry,
homes on their mailbox host, passwords as {SSHA} hashes that slapd checks."""
import os
import time
import unittest

from cluster_site import Site, ns_python, why_no_site
from harness import maildir_files, read_message, wait_for

TAG = f"pq{os.getpid() % 100000}"
HOSTS = {"OUT": ("out.test", "out"), "MX1": ("mx1.example.test", "mx"), "MX2": ("mx2.example.test", "backup"),
         "MB1": ("mb1.example.test", "mailbox"), "MB2": ("mb2.example.test", "mailbox"),
         "PX": ("proxy.example.test", "proxy")}
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
USERS = {"alice": ("MB1", PASSWORDS["alice"]), "bob": ("MB2", PASSWORDS["bob"]), "carol": ("MB2", PASSWORDS["carol"])}
REASON = why_no_site()


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

SMTP_SEND = """
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, timeout=30)
s.ehlo("client.out.test")
s.mail("csender@out.test")
print(*s.rcpt(sys.argv[2]))
print(*s.data(("Subject: " + sys.argv[3] + "\\r\\n\\r\\nthrough the proxy\\r\\n").encode()))
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
        cls.site = Site(TAG, "10.78.0", HOSTS, USERS, [("MX1", 10), ("MX2", 20)])
        cls.insts, cls.smtpd, cls.addr, cls.ns = cls.site.insts, cls.site.smtpd, cls.site.addr, cls.site.ns
        cls.sender = cls.site.sender
        cls.accounts = cls.site.accounts

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    # -- helpers -------------------------------------------------------------
    def maildir(self, name):
        return self.site.maildir(name)

    def count(self, name):
        return self.site.count(name)

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
        out = ns_python(self.ns["OUT"], SMTP_RCPT, self.addr["MX1"], "nosuchname@example.test", "carol@example.test",
                        "carol-list@example.test")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("550 5.1.1"), out)
        self.assertTrue(lines[1].startswith("250"), out)
        self.assertTrue(lines[2].startswith("250"), out)  # an extension of carol's
        # The backup MX knows the users too: it never takes mail it would bounce.
        out = ns_python(self.ns["OUT"], SMTP_RCPT, self.addr["MX2"], "nosuchname@example.test", "bob@example.test")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("550 5.1.1"), out)
        self.assertTrue(lines[1].startswith("250"), out)
        self.assertIn("control/ldaprcpthosts", self.smtpd["MX2"].log())

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
            self.site.restart_smtpd("MX1")
        self.insts["MX2"].retry()
        found = self.wait_subject("bob", "cluster backup")
        self.assertEqual(len(found), 1)
        text = read_message(found[0]).as_string()
        self.assertIn("mx2.example.test", text)  # its Received: line: it came through the backup
        self.settle()

    def test_5_a_directory_outage_defers_and_bounces_nothing(self):
        before = len(maildir_files(self.sender.maildir))
        self.site.ldap.stop()
        try:
            out = ns_python(self.ns["OUT"], SMTP_RCPT, self.addr["MX1"], "carol@example.test")
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
            self.site.ldap.start()
        time.sleep(6)  # a server found down is not asked again for 5 s (ldap_client.hpp)
        self.insts["MX1"].retry()
        self.wait_subject("carol", "cluster outage")
        self.settle()
        self.assertEqual(len(maildir_files(self.sender.maildir)), before)  # no bounce came back

    def test_6_imap_and_pop3_through_the_proxy_reach_the_users_host(self):
        out = ns_python(self.ns["OUT"], IMAP_READ, self.addr["PX"], "alice", PASSWORDS["alice"])
        self.assertIn("subject cluster one", out)
        self.assertIn("count ", out)
        self.assertIn("alice from 10.78.0.7: logged in", self.site.mailbox_servers[("MB1", "imapd")].log())
        self.assertNotIn("alice", self.site.mailbox_servers[("MB2", "imapd")].log())
        out = ns_python(self.ns["OUT"], POP3_READ, self.addr["PX"], "bob", PASSWORDS["bob"])
        self.assertIn("subject cluster one", out)
        self.assertIn("subject cluster backup", out)
        self.assertIn("bob from 10.78.0.7", self.site.mailbox_servers[("MB2", "pop3d")].log())
        self.assertIn("to mb1.example.test [10.78.0.5]:143", self.site.authhttp.log())
        self.assertIn("to mb2.example.test [10.78.0.6]:110", self.site.authhttp.log())
        out = ns_python(self.ns["OUT"], IMAP_READ, self.addr["PX"], "alice", "wrong")
        self.assertIn("refused", out)
        self.assertIn("login refused for alice", self.site.authhttp.log())

    def test_7_smtp_through_haproxy_shows_the_client_not_the_proxy(self):
        out = ns_python(self.ns["OUT"], SMTP_SEND, self.addr["PX"], "alice@example.test", "cluster haproxy")
        self.assertIn("250", out)
        found = self.wait_subject("alice", "cluster haproxy")
        text = read_message(found[0]).as_string()
        self.assertIn(f"[{self.addr['OUT']}]", text)  # mx1's Received: names the client behind the proxy
        self.assertNotIn(f"[{self.addr['PX']}]", text)

    def test_8_the_wrong_mailbox_host_sends_mail_on_and_refuses_the_login(self):
        out = ns_python(self.ns["OUT"], SMTP_SEND, self.addr["MB1"], "bob@example.test", "cluster wrong host")
        self.assertIn("250", out)
        self.wait_subject("bob", "cluster wrong host")  # mb1 sent it on to bob's host, mb2
        self.assertIn("mailbox host mb2.example.test", self.insts["MB1"].log())
        # Logins go to the user's own host: mb2 has no mailbox for alice.
        out = ns_python(self.ns["OUT"], IMAP_READ, self.addr["MB2"], "alice", PASSWORDS["alice"])
        self.assertIn("refused", out)
        self.assertIn("the mailbox is on mb1.example.test", self.site.mailbox_servers[("MB2", "imapd")].log())


if __name__ == "__main__":
    unittest.main()
