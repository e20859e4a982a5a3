"""Shared folders and IMAP ACL (RFC 4314, issue 16), with real users under
real uids: the owner sets rights with SETACL; other users see the folder
under "Other Users.<owner>." (NAMESPACE, LIST), select it, and can do
only what their rights allow, each with their own \\Seen, at the same
time; negative rights, "anyone" and groups; DELETEACL takes access away.
The rights are checked by the owner's process (imapd-share), never by the
requester's, whose uid cannot read the owner's files at all. Driven by
Python's imaplib and imapflow.
Trusts: those clients. Returns: one result per behaviour."""
import imaplib
import json
import os
import re
import subprocess
import tempfile
import unittest

import dovecot_peer
from harness import IS_ROOT, can_open_as, maildir_files
from imap_raw import ImapTestCase

DOVECOT_ACL = """
mail_plugins = zlib acl
protocol imap {
  mail_plugins = zlib imap_zlib acl imap_acl
}
plugin {
  acl = vfile
}
"""

imaplib.Commands.setdefault("LISTRIGHTS", ("AUTH", "SELECTED"))
NPM_DIR = "/var/cache/postern/npm"
IMAPFLOW = os.path.join(NPM_DIR, "node_modules", "imapflow")


def flags_of(client, seq="1:*"):
    """{uid: set of flags} through imaplib."""
    typ, data = client.fetch(seq, "(UID FLAGS)")
    assert typ == "OK", data
    out = {}
    for item in data:
        if isinstance(item, bytes):
            m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", item) or re.search(rb"FLAGS \(([^)]*)\) UID (\d+)", item)
            if m and m.re.pattern.startswith(b"UID"):
                out[int(m.group(1))] = set(m.group(2).decode().split()) - {"\\Recent"}
            elif m:
                out[int(m.group(2))] = set(m.group(1).decode().split()) - {"\\Recent"}
    return out


@unittest.skipUnless(IS_ROOT, "real users under real uids need root")
class SharedFolders(ImapTestCase):
    USER = "aclann"
    PASSWORD = "Acl-pw1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.group = f"pt{os.getpid() % 10000}staff"
        subprocess.run(["groupadd", cls.group], check=True, capture_output=True)
        cls.others = {}
        for name in ("aclbob", "aclcarol", "acldave"):
            u = cls.inst.add_user(name)
            cls.inst.set_password(u, cls.PASSWORD)
            cls.others[name] = u
        subprocess.run(["usermod", "-aG", cls.group, cls.others["acldave"].name], check=True, capture_output=True)
        cls.owner = cls.user.name
        cls.prefix = f"Other Users.{cls.owner}."

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        subprocess.run(["groupdel", cls.group], capture_output=True)

    def as_(self, who):
        return self.imaplib_login(user=self.others[who] if who != "owner" else self.user)

    def setUp(self):
        c = self.as_("owner")
        if c.select("Projects")[0] != "OK":
            self.assertEqual(c.create("Projects")[0], "OK")
        carol = self.others["aclcarol"].name
        for who in ("aclbob", "aclcarol", "acldave", "anyone", f"${self.group}", f"-{carol}"):
            c.deleteacl("Projects", self.others[who].name if who in self.others else who)
        c.select("Projects")
        typ, data = c.search(None, "ALL")
        if data[0]:
            c.store("1:*", "+FLAGS", "(\\Deleted)")
            c.expunge()
        c.logout()
        for i in range(3):
            self.put(f"Subject: shared {i}\nFrom: a@example.org\n\nbody {i}\n", ".Projects")

    def shared(self):
        return f'"{self.prefix}Projects"'

    def test_owner_grants_and_each_reader_keeps_its_own_seen(self):
        bob, carol = self.others["aclbob"].name, self.others["aclcarol"].name
        c = self.as_("owner")
        self.assertEqual(c.setacl("Projects", bob, "lrs")[0], "OK")
        self.assertEqual(c.setacl("Projects", carol, "lr")[0], "OK")
        typ, data = c.getacl("Projects")
        self.assertEqual(typ, "OK")
        acl = data[0].decode()
        self.assertIn(f"{bob} lrs", acl)
        self.assertIn(f"{carol} lr", acl)
        self.assertIn(f"{self.owner} lrswipkxteacd", acl)
        typ, data = c.myrights("Projects")
        self.assertIn(b"lrswipkxtea", data[0])
        typ, data = c._simple_command("LISTRIGHTS", "Projects", bob)
        self.assertEqual(typ, "OK")
        c.logout()

        b = self.as_("aclbob")
        typ, data = b.namespace()
        self.assertIn(b'(("Other Users." "."))', data[0])
        typ, data = b.list()
        names = b"\n".join(data).decode()
        self.assertIn(f'"{self.prefix}Projects"', names)
        self.assertIn('"Other Users"', names)
        self.assertIn(b"lrs", b.myrights(self.shared())[1][0])
        carol_c = self.as_("aclcarol")
        # both select it at once
        typ, data = b.select(self.shared())
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), 3)
        # no s, w, t or e: carol's SELECT opens it read-only (imaplib raises on that)
        with self.assertRaises(imaplib.IMAP4.readonly):
            carol_c.select(self.shared())
        typ, data = carol_c.select(self.shared(), readonly=True)
        self.assertEqual(typ, "OK", data)
        typ, data = b.store("1", "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"\\Seen", data[0])
        # w is not bob's: \Flagged is not set, on the file or in the view
        typ, data = b.store("2", "+FLAGS", "(\\Flagged)")
        self.assertNotIn(b"\\Flagged", b"".join(x for x in data if isinstance(x, bytes)))
        typ, data = b.expunge()
        self.assertEqual(typ, "NO")
        self.assertIn(b"NOPERM", data[0])
        typ, data = b.copy("3", self.shared())
        self.assertEqual(typ, "NO")
        # bob's \Seen is bob's: carol and the owner do not see it
        self.assertEqual(set().union(*flags_of(carol_c).values()), set())
        carol_c.fetch("2", "(BODY[])")  # read-only: no \Seen
        self.assertEqual(set().union(*flags_of(carol_c).values()), set())
        o = self.as_("owner")
        o.select("Projects")
        self.assertEqual(set().union(*flags_of(o).values()), set())
        files = maildir_files(os.path.join(self.user.maildir, ".Projects"), "cur")
        self.assertFalse(any(":2," in f and ("S" in f.split(":2,")[1] or "F" in f.split(":2,")[1]) for f in files))
        # a new session of bob's still has its \Seen
        b.logout()
        b = self.as_("aclbob")
        b.select(self.shared())
        seen = [u for u, f in flags_of(b).items() if "\\Seen" in f]
        self.assertEqual(len(seen), 1)
        for x in (b, carol_c, o):
            x.logout()

    def test_rights_are_the_owners_process_to_check(self):
        bob = self.others["aclbob"]
        self.assertFalse(can_open_as(bob.uid, bob.gid, os.path.join(self.user.maildir, ".Projects", "dovecot-uidlist")))
        # imapd-share itself refuses root's mail, whoever asks
        r = subprocess.run([os.path.join(self.inst.bin, "imapd-share"), "root"], user=bob.uid, group=bob.gid,
                           capture_output=True, input=b"", timeout=30)
        self.assertEqual(r.returncode, 100, r.stderr)
        # a folder nobody granted: not even listed, and SELECT says it does not exist
        b = self.as_("aclbob")
        typ, data = b.select(self.shared())
        self.assertEqual(typ, "NO")
        self.assertIn(b"NONEXISTENT", data[0])
        b.logout()

    def test_anyone_negative_rights_and_groups(self):
        carol, dave = self.others["aclcarol"].name, self.others["acldave"].name
        c = self.as_("owner")
        self.assertEqual(c.setacl("Projects", "anyone", "lr")[0], "OK")
        self.assertEqual(c.setacl("Projects", f"-{carol}", "r")[0], "OK")
        self.assertEqual(c.setacl("Projects", f"${self.group}", "lrswte")[0], "OK")
        c.logout()
        k = self.as_("aclcarol")
        self.assertIn(f"{self.prefix}Projects", b"\n".join(k.list()[1]).decode())
        typ, data = k.select(self.shared())
        self.assertEqual(typ, "NO")
        self.assertIn(b"NOPERM", data[0])
        k.logout()
        d = self.as_("acldave")
        typ, data = d.select(self.shared())
        self.assertEqual(typ, "OK", data)
        typ, data = d.store("1", "+FLAGS", "(\\Flagged \\Deleted)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(d.expunge()[0], "OK")
        d.logout()
        o = self.as_("owner")
        o.select("Projects")
        self.assertEqual(len(flags_of(o)), 2, "dave's expunge (group right e) took one message away")
        self.assertEqual(o.deleteacl("Projects", f"${self.group}")[0], "OK")
        o.logout()
        d = self.as_("acldave")
        with self.assertRaises(imaplib.IMAP4.readonly):  # "anyone lr" only, now
            d.select(self.shared())
        d.shutdown()

    def test_append_copy_and_move_across_owners(self):
        bob = self.others["aclbob"].name
        c = self.as_("owner")
        self.assertEqual(c.setacl("Projects", bob, "lrs")[0], "OK")
        c.logout()
        b = self.as_("aclbob")
        # no i: nothing goes in
        typ, data = b.append(self.shared(), "(\\Seen)", None, b"Subject: from bob\r\n\r\nhi\r\n")
        self.assertEqual(typ, "NO")
        self.assertIn(b"NOPERM", data[0])
        c = self.as_("owner")
        self.assertEqual(c.setacl("Projects", bob, "+ite")[0], "OK")
        c.logout()
        typ, data = b.append(self.shared(), "(\\Flagged)", None, b"Subject: from bob\r\n\r\nhi\r\n")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"APPENDUID", data[0])
        # shared -> own (COPY), shared -> own (MOVE), own -> shared (COPY)
        def subjects(client, which="1:*"):
            typ, data = client.fetch(which, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            return sorted(re.findall(rb"Subject: ([^\r]+)", b"".join(x[1] for x in data if isinstance(x, tuple))))
        b.create("Mine")
        b.select(self.shared())
        seqs = b.search(None, 'SUBJECT "shared"')[1][0].split()
        moved = subjects(b, seqs[2].decode())[0]
        typ, data = b.copy(b",".join(seqs[:2]).decode(), "Mine")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"COPYUID", data[0])
        typ, data = b._simple_command("MOVE", seqs[2].decode(), "Mine")
        self.assertEqual(typ, "OK", data)
        b.select("Mine")
        self.assertEqual(subjects(b), [b"shared 0", b"shared 1", b"shared 2"])
        back = b.search(None, "SUBJECT", '"' + moved.decode() + '"')[1][0].split()[0].decode()
        typ, data = b.copy(back, self.shared())
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"COPYUID", data[0])
        b.logout()
        o = self.as_("owner")
        o.select("Projects")
        # the moved one went out and came back; bob's own message came in
        self.assertEqual(subjects(o), [b"from bob", b"shared 0", b"shared 1", b"shared 2"])
        self.assertIn("\\Flagged", set().union(*flags_of(o).values()))
        o.logout()

    def test_public_folders_under_shared(self):
        carol = self.others["aclcarol"]
        self.inst.control("imapshared", carol.name)  # carol's account holds the public folders
        self.addCleanup(self.inst.control, "imapshared", "")
        k = self.as_("aclcarol")
        if k.select("News")[0] != "OK":
            self.assertEqual(k.create("News")[0], "OK")
        self.assertEqual(k.setacl("News", "anyone", "lr")[0], "OK")
        k.logout()
        b = self.as_("aclbob")
        typ, data = b.namespace()
        self.assertIn(b'(("Shared." "."))', data[0])
        names = b"\n".join(b.list()[1]).decode()
        self.assertIn('(\\Noselect \\HasChildren) "." Shared\n', names)
        self.assertIn('"." Shared.News', names)
        self.assertNotIn(f"Other Users.{carol.name}", names)
        typ, data = b.select('"Shared.News"', readonly=True)
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"lr", b.myrights('"Shared.News"')[1][0])
        b.logout()

    def test_idle_in_a_shared_folder_hears_new_mail(self):
        bob = self.others["aclbob"]
        c = self.as_("owner")
        c.setacl("Projects", bob.name, "lr")
        c.logout()
        r = self.login(user=bob)
        r.expect_ok(f"EXAMINE {self.shared()}")
        r.send("i IDLE\r\n")
        r.read_until(lambda x: x.startswith("+"), timeout=10)
        self.put("Subject: while idle\n\nnew\n", ".Projects")
        got = r.read_until(lambda x: x.endswith("EXISTS"), timeout=60)
        self.assertTrue(any(x == "* 4 EXISTS" for x in got), got)
        r.send("DONE\r\n")
        r.read_until(lambda x: x.startswith("i OK"), timeout=10)
        r.expect_ok("NOOP")

    @unittest.skipUnless(dovecot_peer.available(), "needs dovecot-imapd (tools/deps)")
    def test_dovecot_reads_the_same_acl(self):
        bob, carol = self.others["aclbob"].name, self.others["aclcarol"].name
        c = self.as_("owner")
        c.setacl("Projects", bob, "lrs")
        c.setacl("Projects", f"-{carol}", "w")
        c.logout()
        dove = dovecot_peer.DovecotPeer([self.user], password=self.PASSWORD, extra=DOVECOT_ACL, tmp=self.inst.tmp)
        try:
            d = dove.login(self.user.name, timeout=30)
            typ, data = d.getacl("Projects")
            self.assertEqual(typ, "OK", dove.log()[-2000:])
            acl = data[0].decode()
            self.assertRegex(acl, rf"{bob} \"?lrs\"?( |$)")
            self.assertRegex(acl, rf"-{carol} \"?w\"?( |$)")
            # and what Dovecot writes, postern reads
            self.assertEqual(d.setacl("Projects", carol, "lr")[0], "OK")
            d.logout()
        finally:
            dove.cleanup()
        c = self.as_("owner")
        typ, data = c.getacl("Projects")
        self.assertIn(f"{carol} lr", data[0].decode())
        c.logout()

    def test_imapflow_lists_and_reads_a_shared_folder(self):
        if not os.path.exists(os.path.join(IMAPFLOW, "package.json")):
            self.skipTest("imapflow is not installed (make deps)")
        c = self.as_("owner")
        c.setacl("Projects", self.others["aclbob"].name, "lr")
        c.logout()
        script = r"""
const { ImapFlow } = require(process.env.IMAPFLOW);
(async () => {
  const c = new ImapFlow({host: '127.0.0.1', port: +process.env.IPORT, secure: false, logger: false,
                          auth: {user: process.env.IUSER, pass: process.env.IPASS}});
  await c.connect();
  const list = await c.list();
  const box = list.find(b => b.path.endsWith('.Projects') && b.path.startsWith('Other Users'));
  const lock = await c.getMailboxLock(box.path);
  const subjects = [];
  for await (const m of c.fetch('1:*', {envelope: true})) subjects.push(m.envelope.subject);
  lock.release();
  await c.logout();
  console.log(JSON.stringify({path: box.path, ns: box.specialUse || null, subjects}));
})().catch(e => { console.log(JSON.stringify({error: String(e)})); });
"""
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
            f.write(script)
        try:
            env = {"PATH": "/usr/bin:/bin", "IMAPFLOW": IMAPFLOW, "IPORT": str(self.server.port),
                   "IUSER": self.others["aclbob"].name, "IPASS": self.PASSWORD}
            out = subprocess.run(["node", f.name], capture_output=True, text=True, timeout=60, env=env)
        finally:
            os.unlink(f.name)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertNotIn("error", res, res)
        self.assertEqual(res["path"], f"{self.prefix}Projects")
        self.assertEqual(sorted(res["subjects"]), ["shared 0", "shared 1", "shared 2"])
