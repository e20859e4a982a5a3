"""smtpd's list of recipients keeps up by itself: after `useradd` the new
account's mail is accepted at RCPT (and delivered) without anyone running
newrcpt, with smtpd still running as posternd; a name nobody has is still
refused. newu runs newrcpt: a users/assign entry added with newu is
accepted at once."""
import os
import pwd
import smtplib
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, ServerTestCase, _users_made, make_env
from smtp_helpers import SmtpServer


def rcpt(port, address):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example")
        s.mail("someone@example.net")
        return s.rcpt(address)


@unittest.skipUnless(IS_ROOT, "useradd needs root")
class NewAccount(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=True)
        cls.old = cls.inst.add_user("old")  # runs newrcpt, as an admin would
        cls.server = SmtpServer(cls.inst)
        cls.inst.start()

    def test_useradd_then_mail(self):
        inst = self.inst
        self.assertEqual(rcpt(self.server.port, f"nosuchname{os.getpid()}@{inst.me}")[0], 550)
        # A second later, so that the password file is newer than the
        # database even on a file system with coarse times.
        time.sleep(1.1)
        login = f"pt{os.getpid() % 10000}bob"
        home = os.path.join(inst.tmp, "users", login)
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", login], check=True, capture_output=True)
        _users_made.append(login)
        pw = pwd.getpwnam(login)
        for sub in ("Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
            path = os.path.join(home, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, pw.pw_uid, pw.pw_gid)
        code, text = rcpt(self.server.port, f"{login}@{inst.me}")
        self.assertEqual(code, 250, text)
        # Still refused: names nobody has, and the new account's extensions
        # (smtpd cannot read its .qmail files; newrcpt can).
        self.assertEqual(rcpt(self.server.port, f"nosuchname{os.getpid()}@{inst.me}")[0], 550)
        self.assertEqual(rcpt(self.server.port, f"{login}-ext@{inst.me}")[0], 550)
        with smtplib.SMTP("127.0.0.1", self.server.port, timeout=30) as s:
            s.sendmail("someone@example.net", [f"{login}@{inst.me}"], "Subject: welcome\r\n\r\nhello bob\r\n")
        inst.wait_maildir(os.path.join(home, "Maildir"), 1, 60)

    def test_newrcpt_catches_up(self):
        """Once newrcpt has run the database alone answers again."""
        r = subprocess.run([os.path.join(self.inst.bin, "newrcpt")], capture_output=True, env=make_env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rcpt(self.server.port, f"{self.old.name}@{self.inst.me}")[0], 250)


class NewuRunsNewrcpt(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=False)
        cls.server = SmtpServer(cls.inst)

    def test_assign_entry_accepted_after_newu(self):
        inst = self.inst
        home = os.path.join(inst.tmp, "virt")
        os.makedirs(home)
        assign = os.path.join(inst.home, "users", "assign")
        with open(assign, "w") as f:
            f.write(f"=virt:{pwd.getpwuid(os.getuid()).pw_name}:{os.getuid()}:{os.getgid()}:{home}:::\n.\n")
        self.assertEqual(rcpt(self.server.port, f"virt@{inst.me}")[0], 550)
        r = inst.run("newu", [])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rcpt(self.server.port, f"virt@{inst.me}")[0], 250)


if __name__ == "__main__":
    unittest.main()
