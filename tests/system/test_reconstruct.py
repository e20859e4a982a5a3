"""reconstruct (issue 16) on a Maildir damaged the ways real ones get
damaged: a tmp/ leftover, a message with flags in new/, a name with a
control byte, a message cut short after imapd counted it, a
dovecot-uidlist with a line lost and one for a message that is gone, one
that is junk, a folder without cur/, junk in dovecot-keywords and in
subscriptions, a maildirsize that lies. It must say what it changed, keep
every UID it can (a new UIDVALIDITY only for the unreadable uidlist), lose
no message, and change nothing when run again. Checked through imapd with
the raw client and Python's imaplib, and with Dovecot reading the result.
Trusts: those clients. Returns: one result per behaviour."""
import os
import re
import subprocess
import time

import dovecot_peer
from imap_raw import ImapTestCase


def uids(c, box):
    """(UIDVALIDITY, {subject: uid}, {subject: (RFC822.SIZE, len(BODY[]))})."""
    untagged = c.expect_ok(f"SELECT {box}")
    validity = int(re.search(r"UIDVALIDITY (\d+)", "\n".join(untagged)).group(1))
    exists = int(re.search(r"\* (\d+) EXISTS", "\n".join(untagged)).group(1))
    by_subject, sizes = {}, {}
    if exists:
        for r in c.expect_ok("FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])"):
            m = re.search(r"UID (\d+)", r)
            subject = re.search(r"Subject: (r\d+)", r)
            size = int(re.search(r"RFC822.SIZE (\d+)", r).group(1))
            lit = re.search(r"BODY\[\] \{(\d+)\}", r)
            if m and subject:
                by_subject[subject.group(1)] = int(m.group(1))
                sizes[subject.group(1)] = (size, int(lit.group(1)))
    return validity, by_subject, sizes


class Reconstruct(ImapTestCase):
    USER = "rcuser"
    PASSWORD = "recon-pw1"
    n = 0

    def mail(self, folder=""):
        Reconstruct.n += 1
        subject = f"r{Reconstruct.n}"
        name = self.put(f"Subject: {subject}\nFrom: a@example.org\n\n" + "line\n" * 200, folder)
        return subject, name

    def own(self, path):
        os.chown(path, self.user.uid, self.user.gid)

    def write(self, rel, data, mode=0o600):
        path = os.path.join(self.user.maildir, rel)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, mode)
        self.own(path)
        return path

    def cur_name(self, folder, name):
        cur = os.path.join(self.user.maildir, folder, "cur")
        return [n for n in os.listdir(cur) if n.startswith(name)][0]

    def reconstruct(self, *args, as_user=False):
        r = self.inst.run("reconstruct", list(args) if not as_user else list(args), user=self.user if as_user else None,
                          env={"HOME": self.user.home} if as_user else None)
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def test_repairs_what_is_broken_keeps_uids_and_settles(self):
        md = self.user.maildir
        c = self.login()
        for box in ("Work", "Broken", "Nocur"):
            c.expect_ok(f"CREATE {box}")
        inbox = [self.mail() for _ in range(4)]
        work = [self.mail(".Work") for _ in range(3)]
        broken = [self.mail(".Broken") for _ in range(2)]
        v_inbox, before_inbox, _ = uids(c, "INBOX")
        v_work, before_work, _ = uids(c, "Work")
        uids(c, "Broken")
        c.expect_ok("LOGOUT")

        # the damage
        old = self.write("tmp/1.M1P1.leftover", "half a message")
        os.utime(old, (time.time() - 40 * 3600,) * 2)
        flagged_new = "1700000000.M9P9.host,S=30:2,F"
        self.write("new/" + flagged_new, "Subject: r900\n\nflagged in new\n")
        self.write("cur/bad\x01 name:2,S", "Subject: r901\n\nbad name\n")
        short = self.cur_name("", inbox[1][1])
        with open(os.path.join(md, "cur", short), "r+b") as f:
            f.truncate(60)
        ul = os.path.join(md, ".Work", "dovecot-uidlist")
        with open(ul) as f:
            lines = f.read().splitlines()
        lost = [l for l in lines[1:] if work[1][1] in l][0]
        lines.remove(lost)
        lines.append(f"{int(lost.split()[0]) + 50} W10 :1600000000.M1P1.gone")
        lines.append("this line is no record")
        self.write(".Work/dovecot-uidlist", "\n".join(lines) + "\n")
        self.write(".Broken/dovecot-uidlist", b"\x00junk\xff\n1 2 3\n")
        for sub in ("cur", "tmp"):
            os.rmdir(os.path.join(md, ".Nocur", sub))
        self.write("dovecot-keywords", "0 $Work\nnonsense\n1 $Later\n")
        self.write("subscriptions", "V\t2\n\nWork\nbad/name\n")
        self.write("maildirsize", "\n999999 99\n")

        code, out = self.reconstruct("-n", "-u", self.user.name)
        self.assertEqual(code, 0, out)
        self.assertIn("would: ", out)
        self.assertTrue(os.path.exists(os.path.join(md, "cur", "bad\x01 name:2,S")), "-n changes nothing")

        code, out = self.reconstruct("-u", self.user.name)
        self.assertEqual(code, 0, out)
        for said in ("removed tmp/1.M1P1.leftover", "a message with flags belongs in cur/",
                     "control bytes or spaces in the name", "its S= said", "dropped from dovecot-uidlist",
                     "UIDs given to 1 message(s)", "dovecot-uidlist unreadable", "made cur/", "made tmp/",
                     "dovecot-keywords rewritten", "1 line(s) that cannot be read", "subscription bad/name dropped", "maildirsize counted again"):
            self.assertIn(said, out)

        c = self.login()
        v2, after_inbox, sizes = uids(c, "INBOX")
        self.assertEqual(v2, v_inbox, "INBOX keeps its UIDVALIDITY")
        for subject, _ in inbox:
            self.assertEqual(after_inbox[subject], before_inbox[subject], f"{subject} keeps its UID")
        self.assertIn("r900", after_inbox)
        self.assertIn("r901", after_inbox)
        for subject, (size, body) in sizes.items():
            self.assertEqual(size, body, f"{subject}: RFC822.SIZE is what BODY[] holds")
        v2, after_work, _ = uids(c, "Work")
        self.assertEqual(v2, v_work)
        self.assertEqual(after_work[work[0][0]], before_work[work[0][0]])
        self.assertEqual(after_work[work[2][0]], before_work[work[2][0]])
        self.assertGreater(after_work[work[1][0]], max(before_work.values()), "the unlisted message, a new UID")
        v3, after_broken, _ = uids(c, "Broken")
        self.assertEqual(sorted(after_broken), sorted(s for s, _ in broken))
        c.expect_ok("SELECT Nocur")
        c.expect_ok("LOGOUT")
        with open(os.path.join(md, "maildirsize")) as f:
            size_lines = f.read().splitlines()
        self.assertEqual(size_lines[1].split()[1], str(4 + 2 + 3 + 2))

        code, out = self.reconstruct("-u", self.user.name)
        self.assertEqual(code, 0, out)
        self.assertIn("nothing to repair", out, "a second run changes nothing")
        code, out = self.reconstruct(as_user=True)
        self.assertEqual(code, 0, out)
        self.assertIn("nothing to repair", out)

        if dovecot_peer.available():
            dove = dovecot_peer.DovecotPeer([self.user], password=self.PASSWORD, tmp=self.inst.tmp)
            try:
                d = dove.login(self.user.name, timeout=30)
                typ, data = d.select("Work")
                self.assertEqual((typ, int(data[0])), ("OK", 3))
                typ, data = d.uid("SEARCH", "ALL")
                self.assertEqual(sorted(int(u) for u in data[0].split()), sorted(after_work.values()))
                d.logout()
            finally:
                dove.cleanup()

    def test_only_root_repairs_others(self):
        code, out = self.reconstruct("-a", as_user=True)
        self.assertEqual(code, 100, out)
        code, out = self.reconstruct("-u", "nosuchuser-xyz")
        self.assertEqual(code, 111, out)
        self.assertIn("no such user", out)
