"""Real IMAP client libraries against postern's imapd under tcpserver:
imapflow (npm; tools/deps installs it in /var/cache/postern/npm) and
Python's imaplib, driving what modern clients use: SPECIAL-USE, MOVE,
IDLE, CONDSTORE/QRESYNC resync, ESEARCH, BINARY, COMPRESS=DEFLATE. Each
test runs first against a real Dovecot with the same code: a test Dovecot
fails is a broken test and is skipped with the reason, never passed.
Trusts: the client libraries. Returns: one result per client workflow."""
import json
import os
import re
import subprocess
import tempfile
import unittest

from imap_raw import ImapTestCase, is_ok

PASSWORD = "Clients-pw1"
NPM_DIR = "/var/cache/postern/npm"
IMAPFLOW = os.path.join(NPM_DIR, "node_modules", "imapflow")

MESSAGE = (b"From: Client Test <ct@example.org>\r\nTo: you@example.org\r\nSubject: client test\r\n"
           b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <ct1@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello"
           b"\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"AAEC/w==\r\n--b--\r\n")

# One imapflow session: what a mail app does on start and on new mail.
IMAPFLOW_SCRIPT = r"""
const { ImapFlow } = require(process.env.IMAPFLOW);
const out = {};
const opts = (port) => ({ host: '127.0.0.1', port, secure: false, logger: process.env.DBG ? undefined : false, qresync: true,
  auth: { user: process.env.IUSER, pass: process.env.IPASS }, disableAutoIdle: true });
(async () => {
  const c = new ImapFlow(opts(+process.env.IPORT));
  await c.connect();
  out.capabilities = [...c.capabilities.keys()];
  out.enabled = [...(c.enabled || [])];
  const list = await c.list();
  out.special = Object.fromEntries(list.filter(m => m.specialUse).map(m => [m.specialUse, m.path]));
  if (!list.find(m => m.path === 'Archive')) await c.mailboxCreate('Archive');
  const app = await c.append('INBOX', Buffer.from(process.env.IMSG, 'base64'), ['\\Seen']);
  out.appendUid = app.uid;
  let lock = await c.getMailboxLock('INBOX');
  try {
    out.exists = c.mailbox.exists;
    out.highestModseq = String(c.mailbox.highestModseq || '');
    const m = await c.fetchOne('*', { uid: true, envelope: true, bodyStructure: true, flags: true, size: true });
    out.subject = m.envelope.subject;
    out.from = m.envelope.from[0].address;
    out.parts = m.bodyStructure.childNodes.map(p => p.type);
    out.flags = [...m.flags];
    await c.messageFlagsAdd({ uid: m.uid }, ['\\Flagged', 'custom1'], { uid: true });
    const again = await c.fetchOne(m.uid, { flags: true }, { uid: true });
    out.flagsAfter = [...again.flags].sort();
    const { content } = await c.download(m.uid, '2', { uid: true });
    const chunks = []; for await (const ch of content) chunks.push(ch);
    out.part2 = Buffer.concat(chunks).toString('hex');
    out.search = await c.search({ flagged: true }, { uid: true });
    // A second client delivers while this one idles.
    const other = new ImapFlow(opts(+process.env.IPORT));
    await other.connect();
    const got = new Promise(res => c.on('exists', d => res(d.count)));
    const idling = c.idle();
    await new Promise(r => setTimeout(r, 300));
    await other.append('INBOX', Buffer.from('Subject: during idle\r\n\r\nx\r\n'));
    out.idleExists = await Promise.race([got, new Promise(r => setTimeout(() => r('timeout'), 8000))]);
    await other.logout();
    idling.catch(() => {});  // the next command ends IDLE; its promise settles then
    const moved = await c.messageMove({ uid: m.uid }, 'Archive', { uid: true });
    out.moved = !!(moved && moved.uidMap && moved.uidMap.size === 1);
    out.inArchive = (await c.status('Archive', { messages: true })).messages;
  } finally { lock.release(); }
  await c.logout();
  console.log(JSON.stringify(out));
})().catch(e => { console.log(JSON.stringify({ error: String(e && (e.responseText || e.message || e)) , partial: out })); process.exit(0); });
"""


class Clients(ImapTestCase):
    USER = "lpost"
    PASSWORD = PASSWORD
    START = False
    DOVE_USER = "ldove"

    def both(self, check):
        """check(port, user) against Dovecot (must pass: else the test is
        wrong and is skipped), then against postern."""
        if self.dovecot:
            try:
                check(self.dovecot.port, self.dove_user.name)
            except Exception as e:  # the test is wrong, not postern
                self.skipTest(f"Dovecot fails this too: {e!r}"[:500])
        check(self.server.port, self.user.name)

    def test_imapflow_session(self):
        if not os.path.exists(os.path.join(IMAPFLOW, "package.json")):
            self.skipTest("imapflow is not installed (make deps runs npm install into /var/cache/postern/npm)")

        def check(port, user):
            env = {"PATH": "/usr/bin:/bin", "IMAPFLOW": IMAPFLOW, "IPORT": str(port), "IUSER": user,
                   "IPASS": PASSWORD, "IMSG": __import__("base64").b64encode(MESSAGE).decode()}
            with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
                f.write(IMAPFLOW_SCRIPT)
            try:
                out = subprocess.run(["node", f.name], capture_output=True, text=True, timeout=90, env=env)
            finally:
                os.unlink(f.name)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            self.assertNotIn("error", res, res)
            self.assertEqual(res["subject"], "client test")
            self.assertEqual(res["from"], "ct@example.org")
            self.assertEqual(res["parts"], ["text/plain", "application/octet-stream"])
            self.assertIn("\\Seen", res["flags"])
            self.assertEqual([f for f in res["flagsAfter"] if f != "\\Recent"], sorted(["\\Seen", "\\Flagged", "custom1"]))
            self.assertEqual(res["part2"], "000102ff")
            self.assertIn(res["appendUid"], res["search"])
            self.assertEqual(res["idleExists"], res["exists"] + 1)
            self.assertTrue(res["moved"], res)
            self.assertEqual(res["inArchive"], 1)
            # imapflow enables what is offered (postern also offers UTF8=ACCEPT)
            self.assertLessEqual({"CONDSTORE", "QRESYNC"}, set(res["enabled"]))
        self.both(check)

    def test_imaplib_special_use_and_move(self):
        def check(port, user):
            c = self.imaplib_login(port, user, timeout=20)
            for box in ("Trash", "Archive"):
                c.create(box)
            typ, data = c.list('""', "*")
            self.assertEqual(typ, "OK")
            typ, data = c._simple_command("LIST", '""', "*", "RETURN", "(SPECIAL-USE)")
            self.assertEqual(typ, "OK", data)
            lines = b"\n".join(x for x in c.untagged_responses.pop("LIST", []) if isinstance(x, bytes))
            self.assertIn(b"\\Trash", lines)
            before = int(re.search(rb"MESSAGES (\d+)", c.status("Archive", "(MESSAGES)")[1][0]).group(1))
            c.append("INBOX", None, None, MESSAGE)
            typ, data = c.select("INBOX")
            n = int(data[0])
            typ, data = c.uid("MOVE", "1:*", "Archive")
            self.assertEqual(typ, "OK", data)
            self.assertIn("COPYUID", str(c.untagged_responses.get("OK", [])) + str(data))
            typ, data = c.status("Archive", "(MESSAGES)")
            self.assertIn(f"MESSAGES {before + n}".encode(), data[0])
            c.logout()
        self.both(check)

    def test_imaplib_qresync_resync(self):
        def check(port, user):
            c = self.imaplib_login(port, user, timeout=20)
            c.create("Resync")
            for i in range(3):
                c.append("Resync", None, None, MESSAGE.replace(b"client test", f"resync {i}".encode()))
            typ, data = c._simple_command("ENABLE", "QRESYNC")
            self.assertEqual(typ, "OK", data)
            typ, data = c.select("Resync")
            validity = int(c.untagged_responses["UIDVALIDITY"][0])
            hms = int(c.untagged_responses["HIGHESTMODSEQ"][0])
            c.logout()
            # Another session changes the folder while the first is gone.
            d = self.imaplib_login(port, user, timeout=20)
            d.select("Resync")
            d.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
            d.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
            d.expunge()
            d.logout()
            c = self.imaplib_login(port, user, timeout=20)
            c._simple_command("ENABLE", "QRESYNC")
            typ, data = c._simple_command("SELECT", "Resync", f"(QRESYNC ({validity} {hms} 1:3))")
            self.assertEqual(typ, "OK", data)
            vanished = c.untagged_responses.get("VANISHED", [])
            fetches = c.untagged_responses.get("FETCH", [])
            self.assertTrue(any(b"2" in v for v in vanished), vanished)
            self.assertTrue(any(b"UID 1" in f and b"\\Flagged" in f and b"MODSEQ" in f for f in fetches), fetches)
            self.assertFalse(any(b"UID 3 " in f or f.endswith(b"UID 3)") for f in fetches), fetches)
            c.logout()
        self.both(check)

    def test_imaplib_esearch_binary_idle(self):
        def check(port, user):
            c = self.imaplib_login(port, user, timeout=20)
            c.create("Ext")
            c.append("Ext", "(\\Seen)", None, MESSAGE)
            c.append("Ext", None, None, MESSAGE)
            c.select("Ext")
            typ, data = c._simple_command("SEARCH", "RETURN", "(MIN COUNT)", "ALL")
            self.assertEqual(typ, "OK", data)
            es = c.untagged_responses.pop("ESEARCH", [b""])[0]
            self.assertRegex(es, rb"MIN 1 COUNT 2")
            typ, data = c.fetch("1", "(BINARY.PEEK[2])")
            self.assertEqual(typ, "OK", data)
            self.assertEqual(data[0][1], b"\x00\x01\x02\xff")
            # IDLE: a delivery by another session shows up within seconds.
            tag = c._new_tag().decode()
            c.send(f"{tag} IDLE\r\n".encode())
            self.assertTrue(c.readline().startswith(b"+"))
            o = self.imaplib_login(port, user, timeout=20)
            o.append("Ext", None, None, MESSAGE)
            o.logout()
            c.sock.settimeout(10)
            line = b""
            while b"EXISTS" not in line:
                line = c.readline()
                self.assertTrue(line, "connection closed during IDLE")
            self.assertIn(b"* 3 EXISTS", line)
            c.send(b"DONE\r\n")
            while not c.readline().startswith(tag.encode()):
                pass
            c.logout()
        self.both(check)

    def test_compress_deflate(self):
        def check(port, user):
            r = self.connect(port, timeout=20)
            r.cmd(f"LOGIN {user} {PASSWORD}")
            ok, caps = r.cmd("CAPABILITY")
            self.assertIn("COMPRESS=DEFLATE", " ".join(caps + [ok]))
            r.compress()
            ok, res = r.cmd("LIST \"\" INBOX")
            self.assertIn("INBOX", res[0])
            self.assertTrue(is_ok(ok), ok)
            ok, res = r.cmd("LOGOUT")
            self.assertTrue(any(l.startswith("* BYE") for l in res))
        self.both(check)
