"""Mailbox quotas (issue 16) as a user and an admin meet them: control/quotas
sets a user's limits; deliveries by SMTP fill the Maildir until local
defers with 4.2.2 (one warning at control/quotawarn's percentage, not one
per delivery), smtpd then refuses RCPT with 452 4.2.2, and an expunge over
IMAP lets mail in again; APPEND and COPY past a limit get NO [OVERQUOTA];
GETQUOTAROOT/GETQUOTA through Python's imaplib and imapflow; SETQUOTA for
admins only (setquota(8)); a real Dovecot with its Maildir++ quota backend
reads the same maildirsize and reports the same numbers; a message that
never fits bounces after queuelifetime.
Trusts: smtplib, imaplib, imapflow and Dovecot. Returns: one result per
behaviour."""
import imaplib
import json
import os
import re
import signal
import smtplib
import subprocess
import tempfile
import time
import unittest

import dovecot_peer
from harness import maildir_files, wait_for
from smtp_helpers import SmtpServer
from imap_raw import ImapTestCase, is_ok

NPM_DIR = "/var/cache/postern/npm"
IMAPFLOW = os.path.join(NPM_DIR, "node_modules", "imapflow")

DOVECOT_QUOTA = """
mail_plugins = zlib quota
protocol imap {
  mail_plugins = zlib imap_zlib quota imap_quota
}
plugin {
  quota = maildir:User quota
}
"""


def body(n, size):
    return f"From: sender@example.org\r\nSubject: quota {n}\r\n\r\n" + ("x" * 70 + "\r\n") * (size // 72)


def raw(path):
    with open(path, "rb") as f:
        return f.read()


def quota_of(client, box="INBOX"):
    """{resource: (used, limit)} from GETQUOTAROOT, through imaplib."""
    typ, data = client.getquotaroot(box)
    assert typ == "OK", data
    out = {}
    for item in data[1] if len(data) > 1 else []:
        text = item.decode() if isinstance(item, bytes) else str(item)
        for res, used, limit in re.findall(r"(STORAGE|MESSAGE) (\d+) (\d+)", text):
            out[res] = (int(used), int(limit))
    return out


class Quota(ImapTestCase):
    USER = "quser"
    PASSWORD = "Quota-pw1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtpd = SmtpServer(cls.inst)
        cls.other = cls.inst.add_user("qother")
        cls.inst.set_password(cls.other, cls.PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.smtpd.stop()
        super().tearDownClass()

    def setUp(self):
        self.inst.control("quotas", "")
        self.inst.control("quotawarn", "")
        self.inst.control("quotaadmins", "")
        # A message a failed test left waiting goes in now, with no quota.
        if self.inst.queue_count():
            self.inst.retry()
            self.inst.wait_queue_empty()
        # Each test starts from an empty mailbox and no over-quota mark.
        c = self.imaplib_login()
        for box in ("INBOX", "Keep", "Archive"):
            typ, data = c.select(box)
            if typ == "OK" and int(data[0]):
                c.store("1:*", "+FLAGS", "(\\Deleted)")
                c.expunge()
        c.logout()
        mark = os.path.join(self.inst.home, "quota", self.user.name)
        if os.path.exists(mark):
            os.unlink(mark)

    def smtp(self, rcpt, n, size=4000):
        with smtplib.SMTP("127.0.0.1", self.smtpd.port, timeout=30) as s:
            s.ehlo("client.example.org")
            s.mail("sender@example.org")
            code, text = s.rcpt(rcpt)
            if code != 250:
                return code, text.decode()
            s.data(body(n, size).encode())
            return 250, ""

    def maildirsize(self):
        with open(os.path.join(self.user.maildir, "maildirsize")) as f:
            return f.read()

    def test_delivery_fills_the_mailbox_then_defers_then_smtpd_refuses(self):
        self.inst.control("quotas", f"{self.user.name} 20K 0\n* 1G 0")
        self.inst.control("quotawarn", "50")
        # ~4.5 KB messages into 20 KB: four fit, the fifth waits.
        for n in range(5):
            code, text = self.smtp(self.user.address, n, 4500)
            self.assertEqual(code, 250, text)
            if n < 4:
                self.inst.wait_queue_empty()
        full = f"The mailbox of {self.user.name} is full"
        wait_for(lambda: full in self.inst.log(), 30, "a quota deferral")
        self.assertEqual(self.inst.queue_count(), 1, self.inst.mailq())
        self.assertIn("full", self.inst.mailq())
        files = [raw(p) for p in maildir_files(self.user.maildir)]
        delivered = [m for m in files if b"Subject: quota" in m]
        warnings = [m for m in files if b"Subject: Your mailbox is 50% full" in m]
        self.assertEqual(len(delivered), 4)
        self.assertEqual(len(warnings), 1, "one warning when crossing 50%, not one a delivery")
        self.assertIn(b"Auto-Submitted: auto-generated", warnings[0])
        # maildirsize is Maildir++'s: the limit, then lines that add up
        text = self.maildirsize()
        self.assertEqual(text.splitlines()[0], "20480S")
        total = sum(int(l.split()[0]) for l in text.splitlines()[1:])
        on_disk = sum(os.path.getsize(p) for p in maildir_files(self.user.maildir))
        self.assertEqual(total, on_disk)
        # smtpd now refuses at RCPT, and says why in SMTP's terms
        code, text = self.smtp(self.user.address, 99)
        self.assertEqual(code, 452, text)
        self.assertIn("4.2.2", text)
        # ... but only for this user
        self.assertEqual(self.smtp(self.other.address, 100)[0], 250)
        # The user makes room over IMAP: the mark goes, mail comes in again.
        c = self.imaplib_login()
        c.select("INBOX")
        c.store("1:3", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.logout()
        self.assertFalse(os.path.exists(os.path.join(self.inst.home, "quota", self.user.name)))
        self.assertEqual(self.smtp(self.user.address, 101)[0], 250)
        self.inst.retry()
        self.inst.wait_queue_empty()
        subjects = [raw(p) for p in maildir_files(self.user.maildir)]
        self.assertTrue(any(b"Subject: quota 4" in m for m in subjects), "the deferred message arrived")
        self.assertTrue(any(b"Subject: quota 101" in m for m in subjects))

    def test_append_and_copy_over_quota_are_refused(self):
        self.inst.control("quotas", f"{self.user.name} 0 3")
        c = self.imaplib_login()
        for i in range(3):
            typ, data = c.append("INBOX", None, None, body(i, 300).encode())
            self.assertEqual(typ, "OK", data)
        typ, data = c.append("INBOX", None, None, body(3, 300).encode())
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        if c.select("Keep")[0] != "OK":
            self.assertEqual(c.create("Keep")[0], "OK")
        c.select("INBOX")
        typ, data = c.copy("1", "Keep")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        # MOVE stays within the quota root: allowed when full
        typ, data = c._simple_command("MOVE", "1", "Keep")
        self.assertEqual(typ, "OK", data)
        q = quota_of(c)
        self.assertEqual(q["MESSAGE"], (3, 3))
        self.assertNotIn("STORAGE", q)
        c.logout()

    def test_a_folder_with_a_root_of_its_own(self):
        self.inst.control("quotas", f"{self.user.name} 1M 0\n{self.user.name}/Archive 0 2")
        self.user.write(".qmail-archive", "./Maildir/.Archive/\n")
        self.assertEqual(self.inst.run("newrcpt", []).returncode, 0)  # smtpd learns the address
        c = self.imaplib_login()
        if c.select("Archive")[0] != "OK":
            c.create("Archive")
        self.assertEqual(c.append("Archive", None, None, body(1, 300).encode())[0], "OK")
        typ, data = c.getquotaroot("Archive")
        self.assertEqual(data[0][0], f'Archive "{self.user.name}" "{self.user.name}/Archive"'.encode())
        self.assertIn(f'"{self.user.name}/Archive" (MESSAGE 1 2)'.encode(), b" ".join(data[1]))
        # a delivery fills it; the next one waits, named by its folder
        code, text = self.smtp(f"{self.user.name}-archive@{self.inst.me}", 1, 300)
        self.assertEqual(code, 250, text)
        self.inst.wait_queue_empty()
        self.assertEqual(self.smtp(f"{self.user.name}-archive@{self.inst.me}", 2, 300)[0], 250)
        wait_for(lambda: "The folder Archive of" in self.inst.log(), 30, "a folder quota deferral")
        typ, data = c.append("Archive", None, None, body(3, 300).encode())
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        # INBOX is not that root's: it takes mail
        self.assertEqual(c.append("INBOX", None, None, body(4, 300).encode())[0], "OK")
        c.select("Archive")
        c.store("1", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.logout()
        self.inst.retry()
        self.inst.wait_queue_empty()

    def test_getquotaroot_through_imaplib_and_imapflow(self):
        self.inst.control("quotas", f"{self.user.name} 100K 50")
        for i in range(2):
            self.put(body(i, 2000))
        c = self.imaplib_login()
        typ, data = c.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][0], f'INBOX "{self.user.name}"'.encode())
        q = quota_of(c)
        on_disk = sum(os.path.getsize(p) for p in maildir_files(self.user.maildir))
        self.assertEqual(q["STORAGE"], (-(-on_disk // 1024), 100))
        self.assertEqual(q["MESSAGE"], (2, 50))
        typ, data = c.getquota(f'"{self.user.name}"')
        self.assertEqual(typ, "OK")
        typ, _ = c.getquota('"someone-else"')
        self.assertEqual(typ, "NO")
        c.logout()
        if not os.path.exists(os.path.join(IMAPFLOW, "package.json")):
            self.skipTest("imapflow is not installed (make deps)")
        script = r"""
const { ImapFlow } = require(process.env.IMAPFLOW);
(async () => {
  const c = new ImapFlow({host: '127.0.0.1', port: +process.env.IPORT, secure: false, logger: false,
                          auth: {user: process.env.IUSER, pass: process.env.IPASS}});
  await c.connect();
  const q = await c.getQuota('INBOX');
  await c.logout();
  console.log(JSON.stringify(q));
})().catch(e => { console.log(JSON.stringify({error: String(e)})); });
"""
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
            f.write(script)
        try:
            env = {"PATH": "/usr/bin:/bin", "IMAPFLOW": IMAPFLOW, "IPORT": str(self.server.port),
                   "IUSER": self.user.name, "IPASS": self.PASSWORD}
            out = subprocess.run(["node", f.name], capture_output=True, text=True, timeout=60, env=env)
        finally:
            os.unlink(f.name)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertNotIn("error", res, res)
        self.assertEqual(res["storage"]["limit"], 100 * 1024)
        self.assertEqual(res["storage"]["usage"], -(-on_disk // 1024) * 1024)
        self.assertEqual((res["message"]["usage"], res["message"]["limit"]), (2, 50))

    def test_setquota_only_for_admins(self):
        self.inst.control("quotas", f"{self.user.name} 100K 0")
        c = self.imaplib_login()
        typ, data = c.setquota(f'"{self.other.name}"', "(STORAGE 10)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[NOPERM]", data[0])
        self.assertEqual(self.inst.control_value("quotas"), f"{self.user.name} 100K 0")
        c.logout()
        self.inst.control("quotaadmins", self.user.name)
        c = self.imaplib_login()
        typ, data = c.setquota(f'"{self.other.name}"', "(STORAGE 10 MESSAGE 7)")
        self.assertEqual(typ, "OK", data)
        typ, data = c.setquota(f'"{self.user.name}"', "(MESSAGE 9)")
        self.assertEqual(typ, "OK", data)
        c.logout()
        with open(os.path.join(self.inst.home, "control", "quotas")) as f:
            lines = f.read().splitlines()
        self.assertIn(f"{self.other.name} 10240 7", lines)
        self.assertIn(f"{self.user.name} 0 9", lines)
        # the other user's session sees the new limits
        c = self.imaplib_login(user=self.other)
        self.assertEqual(quota_of(c)["STORAGE"][1], 10)
        self.assertEqual(quota_of(c)["MESSAGE"][1], 7)
        c.logout()
        # setquota by hand: root may; the ordinary user may not
        r = self.inst.run("setquota", [self.other.name, "-", "-"], user=self.other)
        self.assertEqual(r.returncode, 100, r.stderr)
        r = self.inst.run("setquota", [self.other.name, "-", "-"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.inst.run("setquota", ["-l", self.other.name]).stdout, b"")

    @unittest.skipUnless(dovecot_peer.available(), "needs dovecot-imapd (tools/deps)")
    def test_dovecot_reads_the_same_maildirsize(self):
        self.inst.control("quotas", f"{self.user.name} 64K 40")
        for i in range(3):
            code, text = self.smtp(self.user.address, i, 3000)
            self.assertEqual(code, 250, text)
        self.inst.wait_queue_empty()
        c = self.imaplib_login()
        c.append("INBOX", None, None, body(9, 1500).encode())
        mine = quota_of(c)
        c.logout()
        self.assertEqual(mine["MESSAGE"], (4, 40))
        dove = dovecot_peer.DovecotPeer([self.user], password=self.PASSWORD, extra=DOVECOT_QUOTA,
                                        tmp=self.inst.tmp)
        try:
            d = dove.login(self.user.name, timeout=30)
            self.assertEqual(quota_of(d), mine, dove.log()[-2000:])
            # and what Dovecot takes away, postern counts
            d.select("INBOX")
            d.store("1", "+FLAGS", "(\\Deleted)")
            d.expunge()
            after = quota_of(d)
            d.logout()
        finally:
            dove.cleanup()
        c = self.imaplib_login()
        self.assertEqual(quota_of(c), after)
        self.assertEqual(after["MESSAGE"], (3, 40))
        c.logout()


class QuotaBounce(ImapTestCase):
    """A message that never fits is returned to its sender after
    queuelifetime, with the quota deferral as the reason."""
    USER = "qbuser"
    PASSWORD = "Quota-pw2"

    def test_bounce_after_queuelifetime(self):
        sender = self.inst.add_user("qbsender")
        self.inst.control("quotas", f"{self.user.name} 1K 0")
        smtpd = SmtpServer(self.inst)
        self.addCleanup(smtpd.stop)
        with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30) as s:
            s.sendmail(sender.address, [self.user.address], body(1, 4000).encode())
        wait_for(lambda: "is full" in self.inst.log(), 30, "a quota deferral")
        self.assertEqual(self.inst.queue_count(), 1)
        self.inst.control("queuelifetime", "2")
        reread = self.inst.log().count("reread the control files")
        os.kill(self.inst.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.inst.log().count("reread the control files") > reread, 10, "SIGHUP")
        time.sleep(3.5)  # the queue counts whole seconds
        self.inst.retry()
        self.inst.wait_queue_empty()
        bounce = raw(self.inst.wait_maildir(sender.maildir)[0])
        self.assertIn(b"is full", bounce)
        self.assertIn(b"4.2.2", bounce)
        self.assertEqual([p for p in maildir_files(self.user.maildir)], [])


if __name__ == "__main__":
    unittest.main()
