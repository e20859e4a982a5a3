"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: a real tcpserver running
bin/imapd as root and a raw socket client. Each test runs the same
commands in one session before ENABLE IMAP4rev2 (the IMAP4rev1 answers
must stay as they were) and after it (the answers RFC 9051 and its ABNF
require), so a difference in either direction fails."""
import imaplib
import json
import os
import re
import socket
import subprocess
import tempfile
import unittest

from dovecot_peer import DovecotPeer
from imap_raw import ImapTestCase


IMAPFLOW = "/var/cache/postern/npm/node_modules/imapflow"  # tools/deps installs it

# imapflow enables IMAP4rev2 when it is offered and then speaks it: UTF-8
# names, STATUS DELETED, ESEARCH, no \\Recent.
IMAPFLOW_SCRIPT = r"""
const { ImapFlow } = require(process.env.IMAPFLOW);
const out = {};
(async () => {
  const c = new ImapFlow({ host: '127.0.0.1', port: +process.env.IPORT, secure: false, logger: false,
    auth: { user: process.env.IUSER, pass: process.env.IPASS }, disableAutoIdle: true });
  await c.connect();
  out.enabled = [...(c.enabled || [])];
  await c.mailboxCreate('B\u00fccher');
  out.listed = (await c.list()).map(m => m.path).filter(p => p.startsWith('B'));
  await c.append('B\u00fccher', Buffer.from('Subject: one\r\n\r\nx\r\n'), ['\\Deleted']);
  await c.append('B\u00fccher', Buffer.from('Subject: two\r\n\r\ny\r\n'), ['\\Seen']);
  const st = await c.status('B\u00fccher', { messages: true, deleted: true, unseen: true });
  out.status = { messages: st.messages, deleted: st.deleted, unseen: st.unseen };
  const lock = await c.getMailboxLock('B\u00fccher');
  try {
    out.exists = c.mailbox.exists;
    out.unseen = await c.search({ seen: false });
    out.flags = [];
    for await (const m of c.fetch('1:*', { flags: true })) out.flags.push([...m.flags].sort());
  } finally { lock.release(); }
  await c.logout();
  console.log(JSON.stringify(out));
})().catch(e => { console.log(JSON.stringify({ error: String(e && (e.responseText || e.message || e)), partial: out })); });
"""


def enable_rev2(r):
    assert r.expect_ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]


def answer(r, text):
    """The tagged answer's word (OK, NO or BAD)."""
    return r.cmd(text)[0].split(" ")[1]


def flags_of(lines):
    """The FLAGS of each untagged FETCH response, in order."""
    return [m.group(1) for l in lines if (m := re.search(r" FETCH \(.*FLAGS \(([^)]*)\)", l))]


class ImapdRev2(ImapTestCase):
    USER = "r2alice"
    PASSWORD = "alice-pw"

    folders = 0

    def client(self):
        """A raw client logged in; its tags are T1, T2, ..."""
        return self.login(prefix="T")

    def folder(self, messages, flags=None):
        """A new folder holding messages (LF text), appended through
        imaplib, so they are \\Recent for the next session to select it."""
        ImapdRev2.folders += 1
        name = f"r{ImapdRev2.folders}"
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        c.login(self.user.name, "alice-pw")
        self.assertEqual(c.create(name)[0], "OK")
        for m in messages:
            typ, data = c.append(name, flags, None, m.replace("\n", "\r\n").encode())
            self.assertEqual(typ, "OK", data)
        c.logout()
        return name

    def deliver_to(self, name, text):
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        c.login(self.user.name, "alice-pw")
        self.assertEqual(c.append(name, None, None, text.encode())[0], "OK")
        c.logout()

    def test_capability_lists_both_and_enable_turns_rev2_on(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=60) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"A CAPABILITY\r\nB LOGIN " + self.user.name.encode() + b" alice-pw\r\n")
            before, login = f.readline().decode(), f"{f.readline().decode()}{f.readline().decode()}"
        self.assertRegex(before, r"^\* CAPABILITY IMAP4rev1 IMAP4rev2 ")
        self.assertRegex(login, r"B OK \[CAPABILITY IMAP4rev1 IMAP4rev2 ")
        r = self.client()
        self.assertIn("IMAP4rev2", r.expect_ok("CAPABILITY")[0].split())
        # ENABLE names only what it turned on now; a second time, nothing.
        self.assertEqual(r.expect_ok("ENABLE imap4rev2"), ["* ENABLED IMAP4rev2"])
        self.assertEqual(r.expect_ok("ENABLE IMAP4rev2"), ["* ENABLED"])

    def test_select_has_no_recent_or_unseen_and_sends_list(self):
        a = self.folder(["Subject: a1\n\nx\n", "Subject: a2\n\ny\n"])
        b = self.folder(["Subject: b1\n\nx\n", "Subject: b2\n\ny\n"])
        r = self.client()
        lines = r.expect_ok(f"SELECT {a}")
        self.assertIn("* 2 RECENT", lines)
        self.assertTrue(any(l.startswith("* OK [UNSEEN 1]") for l in lines), lines)
        self.assertFalse(any(l.startswith("* LIST") for l in lines), lines)
        self.assertEqual(flags_of(r.expect_ok("FETCH 1:2 FLAGS")), ["\\Recent", "\\Recent"])
        r.expect_ok("UNSELECT")
        enable_rev2(r)
        for verb in ("SELECT", "EXAMINE"):
            lines = r.expect_ok(f"{verb} {b}")
            self.assertIn("* 2 EXISTS", lines)
            self.assertFalse(any("RECENT" in l or "UNSEEN" in l for l in lines), lines)
            self.assertIn(f'* LIST (\\HasNoChildren) "." {b}', lines)
            for want in ("* FLAGS (", "* OK [PERMANENTFLAGS (", "* OK [UIDVALIDITY ", "* OK [UIDNEXT 3]"):
                self.assertTrue(any(l.startswith(want) for l in lines), (want, lines))
            self.assertEqual(flags_of(r.expect_ok("FETCH 1:2 FLAGS")), ["", ""])
        # The LIST names the mailbox as it is, with its special use.
        self.assertIn('* LIST (\\HasNoChildren) "." INBOX', r.expect_ok("EXAMINE inbox"))
        self.assertIn('* LIST (\\HasNoChildren \\Sent) "." Sent', r.expect_ok("EXAMINE Sent"))

    def test_new_mail_and_flag_changes_send_no_recent(self):
        a = self.folder(["Subject: a1\n\nx\n"])
        b = self.folder(["Subject: b1\n\nx\n"])
        r = self.client()
        r.expect_ok(f"SELECT {a}")
        self.deliver_to(a, "Subject: new\r\n\r\nz\r\n")
        lines = r.expect_ok("NOOP")
        self.assertEqual(lines[-2:], ["* 2 EXISTS", "* 2 RECENT"])
        self.assertEqual(flags_of(r.expect_ok("STORE 2 +FLAGS (\\Flagged)")), ["\\Flagged \\Recent"])
        r.expect_ok("UNSELECT")
        enable_rev2(r)
        r.expect_ok(f"SELECT {b}")
        self.deliver_to(b, "Subject: new\r\n\r\nz\r\n")
        lines = r.expect_ok("NOOP")
        self.assertIn("* 2 EXISTS", lines)
        self.assertFalse(any("RECENT" in l for l in lines), lines)
        self.assertEqual(flags_of(r.expect_ok("STORE 2 +FLAGS (\\Flagged)")), ["\\Flagged"])
        self.assertEqual(flags_of(r.expect_ok("UID FETCH 1:* (FLAGS)")), ["", "\\Flagged"])

    def test_status_recent_gone_deleted_added(self):
        a = self.folder(["Subject: a1\n\nx\n", "Subject: a2\n\nyy\n"], flags="(\\Deleted)")
        r = self.client()
        lines = r.expect_ok(f"STATUS {a} (MESSAGES RECENT)")
        self.assertEqual(lines, [f"* STATUS {a} (MESSAGES 2 RECENT 2)"])
        self.assertEqual(answer(r, f"STATUS {a} (DELETED)"), "BAD")
        enable_rev2(r)
        tagged, _ = r.cmd(f"STATUS {a} (MESSAGES RECENT)")
        self.assertRegex(tagged, r"^T\d+ BAD .*RECENT")
        lines = r.expect_ok(f"STATUS {a} (MESSAGES DELETED SIZE UNSEEN)")
        self.assertRegex(lines[0], rf"^\* STATUS {a} \(MESSAGES 2 DELETED 2 SIZE \d+ UNSEEN 2\)$")
        r.expect_ok(f"SELECT {a}")
        r.expect_ok("STORE 1 -FLAGS.SILENT (\\Deleted)")
        r.expect_ok("UNSELECT")
        self.assertIn("DELETED 1)", r.expect_ok(f"STATUS {a} (DELETED)")[0])
        # LIST-STATUS (part of IMAP4rev2) follows the same rule.
        self.assertEqual(answer(r, f'LIST "" {a} RETURN (STATUS (RECENT))'), "BAD")
        lines = r.expect_ok(f'LIST "" {a} RETURN (STATUS (DELETED))')
        self.assertIn(f"* STATUS {a} (DELETED 1)", lines)

    def test_search_answers_esearch_with_tag_and_uid(self):
        a = self.folder(["Subject: a1\n\nx\n", "Subject: a2\n\ny\n", "Subject: a3\n\nz\n"])
        r = self.client()
        r.expect_ok(f"SELECT {a}")
        self.assertEqual(r.expect_ok("SEARCH ALL"), ["* SEARCH 1 2 3"])
        self.assertEqual(r.expect_ok("SEARCH SUBJECT nothing"), ["* SEARCH"])
        uids = [int(x) for x in r.expect_ok("UID SEARCH ALL")[0].split()[2:]]
        r.expect_ok("UNSELECT")
        enable_rev2(r)
        r.expect_ok(f"SELECT {a}")
        tagged, lines = r.cmd("SEARCH ALL")
        tag = tagged.split()[0]
        self.assertEqual(lines, [f'* ESEARCH (TAG "{tag}") ALL 1:3'])
        tagged, lines = r.cmd("UID SEARCH SUBJECT a2")
        self.assertEqual(lines, [f'* ESEARCH (TAG "{tagged.split()[0]}") UID ALL {uids[1]}'])
        tagged, lines = r.cmd("SEARCH SUBJECT nothing")
        self.assertEqual(lines, [f'* ESEARCH (TAG "{tagged.split()[0]}")'])
        tagged, lines = r.cmd("SEARCH RETURN (MIN COUNT) ALL")
        self.assertEqual(lines, [f'* ESEARCH (TAG "{tagged.split()[0]}") MIN 1 COUNT 3'])

    def test_new_old_recent_keys_are_bad_in_rev2(self):
        a = self.folder(["Subject: a1\n\nx\n", "Subject: a2\n\ny\n"])
        r = self.client()
        r.expect_ok(f"SELECT {a}")
        keys = ("NEW", "OLD", "RECENT", "NOT RECENT", "OR SEEN NEW", "(ALL OLD)")
        for k in keys:
            self.assertEqual(answer(r, f"SEARCH {k}"), "OK", k)
        self.assertEqual(r.expect_ok("SEARCH RECENT"), ["* SEARCH 1 2"])
        self.assertEqual(answer(r, "SORT (SUBJECT) UTF-8 RECENT"), "OK")
        r.expect_ok("UNSELECT")
        enable_rev2(r)
        r.expect_ok(f"SELECT {a}")
        for k in keys:
            tagged, lines = r.cmd(f"SEARCH {k}")
            self.assertRegex(tagged, r"^T\d+ BAD ", k)
            self.assertEqual(lines, [], k)
        self.assertEqual(answer(r, "SORT (SUBJECT) UTF-8 RECENT"), "BAD")
        self.assertEqual(answer(r, "THREAD REFERENCES UTF-8 NEW"), "BAD")
        self.assertEqual(answer(r, "SEARCH UNSEEN"), "OK")

    def test_list_nonexistent_and_children(self):
        r = self.client()
        r.expect_ok("CREATE lp.kid")  # "lp" exists only as the parent of a name
        plain = r.expect_ok('LIST "" lp*')
        self.assertIn('* LIST (\\Noselect \\HasChildren) "." lp', plain)
        self.assertIn('* LIST (\\HasNoChildren) "." lp.kid', plain)
        extended = r.expect_ok('LIST () "" lp*')
        self.assertIn('* LIST (\\NonExistent) "." lp', extended)
        self.assertIn('* LIST () "." lp.kid', extended)
        enable_rev2(r)
        plain = r.expect_ok('LIST "" lp*')
        self.assertIn('* LIST (\\NonExistent \\HasChildren) "." lp', plain)
        self.assertIn('* LIST (\\HasNoChildren) "." lp.kid', plain)
        extended = r.expect_ok('LIST () "" lp*')
        self.assertIn('* LIST (\\NonExistent \\HasChildren) "." lp', extended)
        self.assertIn('* LIST (\\HasNoChildren) "." lp.kid', extended)
        # LIST "" "" still tells the separator only.
        self.assertEqual(r.expect_ok('LIST "" ""'), ['* LIST (\\Noselect) "." ""'])

    def test_mailbox_names_are_utf8(self):
        r = self.client()
        r.expect_ok('CREATE "&AOQ-pfel"')
        self.assertIn('* LIST (\\HasNoChildren) "." &AOQ-pfel', r.expect_ok('LIST "" "&AOQ-pfel"'))
        enable_rev2(r)
        self.assertIn('* LIST (\\HasNoChildren) "." "\u00e4pfel"', r.expect_ok('LIST "" "\u00e4pfel"'))
        self.assertEqual(r.expect_ok('STATUS "\u00e4pfel" (MESSAGES)'), ['* STATUS "\u00e4pfel" (MESSAGES 0)'])
        r.expect_ok('CREATE "\u00d6l & Wein"')  # "&" is a plain character in IMAP4rev2
        lines = r.expect_ok('SELECT "\u00d6l & Wein"')
        self.assertIn('* LIST (\\HasNoChildren) "." "\u00d6l & Wein"', lines)
        # Bytes that are not UTF-8 name no mailbox.
        r.send(b'X1 CREATE "bad\xff"\r\n')
        self.assertRegex(r.line(), r"^X1 NO ")
        # An IMAP4rev1 session sees the same mailboxes in modified UTF-7.
        old = self.client()
        lines = old.expect_ok('LIST "" "*l*"')
        self.assertIn('* LIST (\\HasNoChildren) "." "&ANY-l &- Wein"', lines)

    def test_enable_with_a_mailbox_selected_is_accepted_as_dovecot_does(self):
        """RFC 5161 3.1 and RFC 9051 6.3.1: clients must not ENABLE once a
        mailbox is selected, but servers need not check; Dovecot answers
        it, and so does postern, so clients that do it keep working."""
        dovecot = DovecotPeer([self.user], password="alice-pw", index="memory", tmp=self.inst.tmp)
        self.addCleanup(dovecot.cleanup)
        for port in (dovecot.port, self.server.port):
            r = self.login(port, prefix="T")
            r.expect_ok("SELECT INBOX")
            self.assertIn("* ENABLED CONDSTORE", r.expect_ok("ENABLE CONDSTORE"), port)
            r.expect_ok("UNSELECT")
            self.assertIn("* ENABLED QRESYNC", r.expect_ok("ENABLE QRESYNC"), port)

    def test_decomposed_names_are_stored_composed(self):
        """RFC 9051 5.1: a denormalised UTF-8 name is stored in NFC, either
        form then finds the same mailbox, and CREATE/SELECT of the other
        form tell the stored name with OLDNAME (6.3.4, 6.3.2)."""
        decomposed, composed = "nu\u0308sse", "n\u00fcsse"
        r = self.client()
        enable_rev2(r)
        self.assertEqual(r.expect_ok(f'CREATE "{decomposed}"'),
                         [f'* LIST (\\HasNoChildren) "." "{composed}" ("OLDNAME" ("{decomposed}"))'])
        self.assertEqual(r.cmd(f'CREATE "{composed}"')[0].split(" ")[1:3], ["NO", "[ALREADYEXISTS]"])
        self.assertEqual(r.expect_ok('LIST "" "n*sse"'), [f'* LIST (\\HasNoChildren) "." "{composed}"'])
        r.expect_ok(f'APPEND "{composed}" {{4+}}\r\nx\r\n')
        one = r.expect_ok(f'SELECT "{decomposed}"')
        self.assertIn(f'* LIST (\\HasNoChildren) "." "{composed}" ("OLDNAME" ("{decomposed}"))', one)
        self.assertIn("* 1 EXISTS", one)
        other = r.expect_ok(f'EXAMINE "{composed}"')
        self.assertIn(f'* LIST (\\HasNoChildren) "." "{composed}"', other)
        self.assertIn("* 1 EXISTS", other)
        uidvalidity = [l for l in one if "UIDVALIDITY" in l]
        self.assertEqual(uidvalidity, [l for l in other if "UIDVALIDITY" in l])
        self.assertEqual(r.expect_ok(f'STATUS "{decomposed}" (MESSAGES)'), [f'* STATUS "{composed}" (MESSAGES 1)'])
        # IMAP4rev1 sees the one folder, in modified UTF-7 of the composed form.
        old = self.client()
        self.assertEqual(old.expect_ok('LIST "" "n*sse"'), ['* LIST (\\HasNoChildren) "." n&APw-sse'])
        # UTF8=ACCEPT alone normalises too, without the rev2 LIST response.
        u = self.client()
        u.expect_ok("ENABLE UTF8=ACCEPT")
        self.assertEqual(u.expect_ok('CREATE "Cafe\u0301"'), [])
        self.assertEqual(old.expect_ok('LIST "" "Caf*"'), ['* LIST (\\HasNoChildren) "." Caf&AOk-'])
        self.assertEqual(u.expect_ok('RENAME "Cafe\u0301" "Caf\u00e9s"'), [])
        self.assertEqual(old.expect_ok('LIST "" "Caf*"'), ['* LIST (\\HasNoChildren) "." Caf&AOk-s'])

    def test_folders_on_disk_under_decomposed_names_stay_reachable(self):
        """A folder Dovecot or an older postern made under a name not in
        NFC is found under the name LIST gives: SELECT, SUBSCRIBE,
        RENAME and DELETE of that name do not normalise it away."""
        decomposed = "Gru\u0308n"  # "u" and a combining diaeresis
        for suffix in ("a", "b"):
            self.make_folder(f"Gru&Awg-n{suffix}")  # modified UTF-7 of decomposed + suffix
        self.put("Subject: on disk\r\n\r\nx\r\n", ".Gru&Awg-na")
        r = self.client()
        enable_rev2(r)
        listed = r.expect_ok('LIST "" "Gr*"')
        self.assertIn(f'* LIST (\\HasNoChildren) "." "{decomposed}a"', listed)
        lines = r.expect_ok(f'SELECT "{decomposed}a"')
        self.assertIn("* 1 EXISTS", lines)
        # The name as stored: no OLDNAME, nothing renamed.
        self.assertIn(f'* LIST (\\HasNoChildren) "." "{decomposed}a"', lines)
        r.expect_ok("UNSELECT")
        r.expect_ok(f'SUBSCRIBE "{decomposed}a"')
        self.assertIn(f'* LSUB () "." "{decomposed}a"', r.expect_ok('LSUB "" "Gr*"'))
        r.expect_ok(f'UNSUBSCRIBE "{decomposed}a"')
        # RENAME finds the old name as it is; the new one is stored in NFC.
        r.expect_ok(f'RENAME "{decomposed}a" "{decomposed}c"')
        self.assertFalse(os.path.exists(os.path.join(self.user.maildir, ".Gru&Awg-na")))
        self.assertTrue(os.path.isdir(os.path.join(self.user.maildir, ".Gr&APw-nc", "cur")))
        self.assertIn("* 1 EXISTS", r.expect_ok('EXAMINE "Gr\u00fcnc"'))
        r.expect_ok("UNSELECT")
        r.expect_ok(f'DELETE "{decomposed}b"')
        self.assertFalse(os.path.exists(os.path.join(self.user.maildir, ".Gru&Awg-nb")))
        r.expect_ok('DELETE "Gr\u00fcnc"')
        self.assertEqual(r.expect_ok('LIST "" "Gr*"'), [])

    def test_rev2_base_commands_work(self):
        """What RFC 9051 folds into the base: each answers after ENABLE."""
        a = self.folder(["Subject: a1\n\nx\n", "Subject: a2\n\ny\n"])
        b = self.folder([])
        r = self.client()
        enable_rev2(r)
        self.assertEqual(r.expect_ok("NAMESPACE"), ['* NAMESPACE (("" ".")) (("Other Users." ".")) NIL'])
        r.expect_ok(f"SELECT {a}")
        tagged, lines = r.cmd(f"UID MOVE 1 {b}")
        self.assertRegex(" ".join(lines + [tagged]), r"COPYUID \d+ \d+ 1")
        self.assertIn("* 1 EXPUNGE", lines)
        lines = r.expect_ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
        self.assertTrue(any("BINARY.SIZE[1] 3" in l for l in lines), lines)
        # $Forwarded, $Junk, $NotJunk, $Phishing and $MDNSent (RFC 9051 2.3.2) can be set.
        lines = r.expect_ok("STORE 1 +FLAGS ($Forwarded $Junk $NotJunk $Phishing $MDNSent)")
        self.assertEqual(flags_of(lines), ["$Forwarded $Junk $NotJunk $Phishing $MDNSent"])
        lines = r.expect_ok("UNSELECT")
        self.assertFalse(any("CLOSED" in l for l in lines), lines)
        r.expect_ok(f"SELECT {a}")
        self.assertIn("* OK [CLOSED] Previous mailbox closed", r.expect_ok(f"EXAMINE {b}"))
        tagged, lines = r.cmd(f"APPEND {b} {{5+}}\r\nHi!\r\n")
        self.assertRegex(tagged, r"OK \[APPENDUID \d+ 2\]")

    def test_imapflow_speaks_rev2(self):
        if not os.path.exists(os.path.join(IMAPFLOW, "package.json")):
            self.skipTest("imapflow is not installed (make deps runs npm install into /var/cache/postern/npm)")
        env = {"PATH": "/usr/bin:/bin", "IMAPFLOW": IMAPFLOW, "IPORT": str(self.server.port),
               "IUSER": self.user.name, "IPASS": "alice-pw"}
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
            f.write(IMAPFLOW_SCRIPT)
        try:
            out = subprocess.run(["node", f.name], capture_output=True, text=True, timeout=120, env=env)
        finally:
            os.unlink(f.name)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertNotIn("error", res, res)
        self.assertIn("IMAP4REV2", [e.upper() for e in res["enabled"]])
        self.assertEqual(res["listed"], ["B\u00fccher"])
        self.assertEqual(res["status"], {"messages": 2, "deleted": 1, "unseen": 1})
        self.assertEqual(res["exists"], 2)
        self.assertEqual(res["unseen"], [1])
        self.assertEqual(res["flags"], [["\\Deleted"], ["\\Seen"]])
        # Stored as IMAP4rev1 clients and Dovecot name it.
        old = self.client()
        self.assertIn('* LIST (\\HasNoChildren) "." B&APw-cher', old.expect_ok('LIST "" B*'))


if __name__ == "__main__":
    unittest.main()
