"""imapd SEARCH, SORT and THREAD end to end: a real tcpserver running
bin/imapd as root, Python's imaplib to APPEND each test's messages into a
folder of its own (as a compliance suite does), and a raw socket client to
read the exact untagged answers (ESEARCH, SORT, THREAD)."""
import imaplib
import os
import re
import unittest

from imap_raw import ImapTestCase, cpu_seconds, mailbox_pids, peak_rss


def searched(lines, name="SEARCH"):
    """The numbers of the one untagged SEARCH (or SORT) response."""
    found = [l for l in lines if l.upper().startswith(f"* {name}")]
    assert len(found) == 1, lines
    return [int(x) for x in found[0].split()[2:]]


ADDRESSES = [
    "From: user-from@domain.org\nTo: user-to@domain.org\nCc: user-cc@domain.org\nBcc: user-bcc@domain.org\n\nbody\n",
    "From: RealFrom <user-from@domain.org>\nTo: RealTo <user-to@domain.org>\n"
    "Cc: RealCc <user-cc@domain.org>\nBcc: RealBcc <user-bcc@domain.org>\n\nbody2\n",
    "From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>\n"
    "Cc: <user-cc@domain.org>\nBcc: <user-bcc@domain.org>\n\nbody3\n",
    "From: user-from@domain.org (RealFrom)\nTo: user-to@domain.org (RealTo)\n"
    "Cc: user-cc@domain.org (RealCc)\nBcc: user-bcc@domain.org (RealBcc)\n\nbody4\n",
    "From: user-from1@domain.org, user-from2@domain.org\nCc: user-cc@domain.org\n\nbody5\n",
    "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n  groupname2: groupuser3@domain.org;\n\nbody6\n",
    "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\nTo: x@y.org\n\nbody7\n",
]

ENCODED = [
    # 1: base64 text part in ISO-8859-1, a quoted-printable part
    "From: a@b.org\nSubject: =?UTF-8?B?Y2Fmw6kgY3LDqG1l?= tonight\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
    "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n"
    "cXVpY2sgYnJvd24gZm94IGNy6G1lIGJy+2zpZQo=\n--b1\n"
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    "soft=\nbroken word, na=C3=AFve\n--b1--\n",
    # 2: plain text, nothing encoded
    "From: c@d.org\nSubject: plain\n\nquick brown dog\n",
    # 3: a single-part base64 body, header words in Q
    "From: e@f.org\nSubject: =?iso-8859-1?q?gr=FC=DFe?= aus Wien\nMIME-Version: 1.0\n"
    "Content-Transfer-Encoding: base64\n\nc2VjcmV0IHBhc3N3b3JkIGluc2lkZQ==\n",
]


class ImapdSearch(ImapTestCase):
    USER = "salice"

    def raw(self):
        """A logged-in Client whose tags are T1, T2, ..."""
        return self.login(timeout=60, prefix="T")

    folders = 0

    def folder_with(self, messages, dates=None):
        """A new folder holding messages (LF text), appended in order;
        returns a raw client with it selected."""
        ImapdSearch.folders += 1
        name = f"f{ImapdSearch.folders}"
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        c.login(self.user.name, self.PASSWORD)
        self.assertEqual(c.create(name)[0], "OK")
        for i, m in enumerate(messages):
            date = dates[i] if dates else None
            typ, data = c.append(name, None, date, m.replace("\n", "\r\n").encode())
            self.assertEqual(typ, "OK", data)
        c.logout()
        r = self.raw()
        r.expect_ok(f"SELECT {name}")
        return r

    def test_uid_sets_reach_4294967295(self):
        r = self.folder_with(["Subject: one\n\nx\n", "Subject: two\n\ny\n"])
        uids = searched(r.expect_ok("UID SEARCH ALL"))
        self.assertEqual(searched(r.expect_ok("UID SEARCH UID 1:4294967295")), uids)
        lines = r.expect_ok("UID FETCH 1:4294967295 (FLAGS)")
        self.assertEqual(len([l for l in lines if " FETCH " in l]), 2)
        self.assertEqual(searched(r.expect_ok(f"SEARCH UID {uids[1]}:4294967295")), [2])
        # 0 is no number of a set, nor one past 32 bits.
        for bad in ("SEARCH 0", "UID SEARCH UID 0:3", "UID FETCH 1:4294967296 (FLAGS)", "SEARCH 1:01"):
            tagged, _ = r.cmd(bad)
            self.assertRegex(tagged, r"^T\d+ BAD ", bad)

    def test_addresses_as_dovecot_matches_them(self):
        r = self.folder_with(ADDRESSES)
        expect = {
            "FROM user-from@domain.org": [1, 2, 3, 4],
            "TO user-to@domain.org": [1, 2, 3, 4],
            "CC user-cc@domain.org": [1, 2, 3, 4, 5],
            "BCC user-bcc@domain.org": [1, 2, 3, 4],
            "FROM realfrom": [2, 4],
            "BCC ealbc": [2, 4],
            "FROM ser-fro": [1, 2, 3, 4, 5],
            "FROM user-from2": [5],
            "TO groupname2": [6],
            "TO groupuser3": [6],
            "TO groupuser4": [],
            'HEADER TO ""': [1, 2, 3, 4, 6, 7],
            'FROM "andr\u00e9 pirard"': [7],
            "FROM pirard@vm1": [7],
        }
        for key, want in expect.items():
            lines = r.expect_ok(f"SEARCH CHARSET UTF-8 {key}" if "\u00e9" in key else f"SEARCH {key}")
            self.assertEqual(searched(lines), want, key)

    def test_body_and_text_decode_transfer_encodings_and_charsets(self):
        r = self.folder_with(ENCODED)
        expect = {
            "BODY \"brown fox\"": [1],
            "BODY \"cr\u00e8me br\u00fbl\u00e9e\"": [1],
            "BODY \"softbroken word\"": [1],
            "BODY \"na\u00efve\"": [1],
            "BODY \"quick brown\"": [1, 2],
            "TEXT \"secret password\"": [3],
            "BODY c2VjcmV0": [],
            "SUBJECT \"caf\u00e9 cr\u00e8me\"": [1],
            "SUBJECT \"gr\u00fc\u00dfe aus\"": [3],
            "TEXT \"gr\u00fc\u00dfe\"": [3],
            "TEXT tonight": [1],
        }
        for key, want in expect.items():
            data = key.encode()
            # Non-ASCII strings go as literals, as clients send them.
            if any(ch > "\x7f" for ch in key):
                name, s = key.split(" ", 1)
                s = s.strip('"').encode()
                tag = r.next_tag()
                r.send(f"{tag} SEARCH CHARSET UTF-8 {name} {{{len(s)}+}}\r\n".encode() + s + b"\r\n")
                tagged, lines = r.finish(tag)
                self.assertIn(" OK ", tagged, key)
            else:
                lines = r.expect_ok(f"SEARCH {data.decode()}")
            self.assertEqual(searched(lines), want, key)

    def test_charsets(self):
        r = self.folder_with(ENCODED)
        # WITHIN (RFC 5032): the appends are seconds old.
        self.assertEqual(searched(r.expect_ok("SEARCH YOUNGER 3600")), [1, 2, 3])
        self.assertEqual(searched(r.expect_ok("SEARCH OLDER 3600")), [])
        self.assertRegex(r.cmd("SEARCH OLDER 0")[0], r"^T\d+ BAD ")
        self.assertEqual(searched(r.expect_ok("SEARCH CHARSET US-ASCII BODY fox")), [1])
        self.assertEqual(searched(r.expect_ok('SEARCH CHARSET "utf-8" BODY fox')), [1])
        tagged, _ = r.cmd("SEARCH CHARSET KOI8-R BODY fox")
        self.assertRegex(tagged, r"^T\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\]")
        tagged, _ = r.cmd("SEARCH CHARSET")
        self.assertRegex(tagged, r"^T\d+ BAD ")

    def test_esearch_and_searchres(self):
        r = self.folder_with([f"Subject: m{i}\n\nx\n" for i in range(1, 8)])
        caps = r.expect_ok("CAPABILITY")[0].split()
        for cap in ("ESEARCH", "SEARCHRES", "WITHIN", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=REFERENCES",
                    "THREAD=ORDEREDSUBJECT"):
            self.assertIn(cap, caps)
        r.expect_ok("STORE 4 +FLAGS (\\Deleted)")
        r.expect_ok("EXPUNGE")
        uids = searched(r.expect_ok("UID SEARCH ALL"))
        self.assertEqual(len(uids), 6)
        tag = f"T{r.n + 1}"
        self.assertEqual(r.expect_ok("SEARCH RETURN () ALL"), [f'* ESEARCH (TAG "{tag}") ALL 1:6'])
        lines = r.expect_ok("SEARCH RETURN (MIN MAX COUNT) 2:4")
        self.assertRegex(lines[0], r'^\* ESEARCH \(TAG "T\d+"\) MIN 2 MAX 4 COUNT 3$')
        lines = r.expect_ok("UID SEARCH RETURN (ALL) ALL")
        self.assertRegex(lines[0], rf'^\* ESEARCH \(TAG "T\d+"\) UID ALL {uids[0]}:{uids[2]},{uids[3]}:{uids[5]}$')
        self.assertRegex(r.expect_ok("SEARCH RETURN (MIN) 1000")[0], r'^\* ESEARCH \(TAG "T\d+"\)$')
        self.assertRegex(r.expect_ok("SEARCH RETURN (COUNT) 1000")[0], r'^\* ESEARCH \(TAG "T\d+"\) COUNT 0$')
        self.assertRegex(r.expect_ok("SEARCH RETURN (PARTIAL 4:2) ALL")[0], r'^\* ESEARCH \(TAG "T\d+"\) PARTIAL \(2:4 2:4\)$')
        self.assertRegex(r.expect_ok("SEARCH RETURN (PARTIAL 1:9) ALL")[0], r'^\* ESEARCH \(TAG "T\d+"\) PARTIAL \(1:9 1:6\)$')
        for bad in ("SEARCH RETURN (PARTIAL 1) ALL", "SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH RETURN (BOGUS) ALL"):
            self.assertRegex(r.cmd(bad)[0], r"^T\d+ BAD ", bad)
        # SAVE alone answers nothing; "$" then names the result everywhere.
        self.assertEqual(r.expect_ok("SEARCH RETURN (SAVE) 2:3"), [])
        self.assertEqual(searched(r.expect_ok("SEARCH $")), [2, 3])
        self.assertEqual(searched(r.expect_ok("UID SEARCH UID $")), uids[1:3])
        lines = r.expect_ok("FETCH $ (UID)")
        self.assertEqual([int(re.search(r"UID (\d+)", l).group(1)) for l in lines], uids[1:3])
        r.expect_ok("UID STORE $ +FLAGS (\\Flagged)")
        self.assertEqual(searched(r.expect_ok("SEARCH FLAGGED")), [2, 3])
        # SAVE with MIN and MAX keeps only those; an expunge leaves its UID out.
        r.expect_ok("SEARCH RETURN (SAVE MIN MAX) 1:5")
        self.assertEqual(searched(r.expect_ok("SEARCH $")), [1, 5])
        r.expect_ok("STORE 1 +FLAGS (\\Deleted)")
        r.expect_ok("EXPUNGE")
        self.assertEqual(searched(r.expect_ok("SEARCH $")), [4])
        # A new SELECT forgets it.
        r.expect_ok("SELECT INBOX")
        self.assertEqual(searched(r.expect_ok("SEARCH $")), [])

    def test_modseq_key(self):
        r = self.folder_with(["Subject: a\n\nx\n", "Subject: b\n\ny\n"])
        # MODSEQ 0 matches every message; the answer names the highest MODSEQ.
        # The first CONDSTORE-enabling command tells HIGHESTMODSEQ (RFC 7162 3.1).
        lines = r.expect_ok("SEARCH MODSEQ 0")
        self.assertRegex(lines[0], r"^\* OK \[HIGHESTMODSEQ \d+\]")
        self.assertRegex(lines[1], r"^\* SEARCH 1 2 \(MODSEQ \d+\)$")
        lines = r.expect_ok('SEARCH RETURN (COUNT) MODSEQ "/flags/\\\\seen" all 0')
        self.assertRegex(lines[0], r'^\* ESEARCH \(TAG "T\d+"\) COUNT 2 MODSEQ \d+$')
        self.assertRegex(r.cmd('SEARCH MODSEQ "/flags/\\\\seen" bogus 0')[0], r"^T\d+ BAD ")
        self.assertRegex(r.cmd("SEARCH MODSEQ x")[0], r"^T\d+ BAD ")

    def test_sort(self):
        msgs = [
            "Subject: a\nFrom: Zed <b@x.org>\nTo: c@x.org\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\n1\n",
            "Subject: C\nFrom: a@x.org\nTo: Yan <d@x.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n22\n",
            "Subject: b\nFrom: Amy <c@x.org>\nTo: a@x.org\nDate: Tue, 2 Jan 2024 09:00:00 +0200\n\n333\n",
            "Subject: _\nFrom: d@x.org\nDate: Tue, 2 Jan 2024 12:00:00 +0000\n\n4444\n",
            "Subject: [foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)\nFrom: e@x.org\n\n55555\n",
            "Subject: b (a)\nFrom: =?utf-8?q?Bob?= <f@x.org>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\n6\n",
            "Subject: Re: [FWD: c]\nDate: Wed, 3 Jan 2024 10:00:00 +0000\n\n77\n",
            "Subject: [xyz]\nDate: garbage\n\n888\n",
            "Date: Wed, 3 Jan 2024 10:00:00 +0000\n\n9\n",
        ]
        r = self.folder_with(msgs, dates=[f'"0{i}-Feb-2024 10:00:00 +0000"' for i in range(1, 10)])
        self.assertEqual(searched(r.expect_ok("SORT (SUBJECT) US-ASCII ALL"), "SORT"), [9, 1, 3, 5, 6, 2, 7, 8, 4])
        self.assertEqual(searched(r.expect_ok("SORT (REVERSE SUBJECT) UTF-8 ALL"), "SORT"), [4, 8, 2, 7, 6, 3, 5, 1, 9])
        self.assertEqual(searched(r.expect_ok("SORT (SUBJECT REVERSE SIZE) US-ASCII ALL"), "SORT"),
                         [9, 1, 3, 5, 6, 2, 7, 8, 4])
        # Message 3's Date is 07:00 UTC; 5 and 8 fall back to the internal date (February).
        self.assertEqual(searched(r.expect_ok("SORT (DATE) US-ASCII ALL"), "SORT"), [2, 3, 1, 6, 4, 7, 9, 5, 8])
        self.assertEqual(searched(r.expect_ok("SORT (REVERSE ARRIVAL) US-ASCII ALL"), "SORT"), [9, 8, 7, 6, 5, 4, 3, 2, 1])
        sizes = {int(l.split()[1]): int(re.search(r"RFC822.SIZE (\d+)", l).group(1))
                 for l in r.expect_ok("FETCH 2:5 (RFC822.SIZE)")}
        self.assertEqual(searched(r.expect_ok("SORT (SIZE) US-ASCII 2:5"), "SORT"), sorted(sizes, key=lambda n: (sizes[n], n)))
        # FROM: the local part; no From sorts first (empty), ties by number.
        self.assertEqual(searched(r.expect_ok("SORT (FROM) US-ASCII ALL"), "SORT"), [7, 8, 9, 2, 1, 3, 4, 5, 6])
        # DISPLAYFROM: the display name, else the address.
        self.assertEqual(searched(r.expect_ok("SORT (DISPLAYFROM) US-ASCII ALL"), "SORT"), [7, 8, 9, 2, 3, 6, 4, 5, 1])
        self.assertEqual(searched(r.expect_ok("SORT (DISPLAYTO) US-ASCII 1:3"), "SORT"), [3, 1, 2])
        uids = searched(r.expect_ok("UID SEARCH ALL"))
        self.assertEqual(searched(r.expect_ok("UID SORT (SUBJECT) US-ASCII 1:2"), "SORT"), [uids[0], uids[1]])
        lines = r.expect_ok("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) US-ASCII 1:4")
        self.assertRegex(lines[0], r'^\* ESEARCH \(TAG "T\d+"\) MIN 1 MAX 4 COUNT 4 ALL 1,3,2,4$')
        self.assertRegex(r.cmd("SORT (SUBJECT) KOI8-R ALL")[0], r"^T\d+ NO \[BADCHARSET")
        for bad in ("SORT SUBJECT US-ASCII ALL", "SORT (BOGUS) US-ASCII ALL", "SORT (REVERSE) US-ASCII ALL",
                    "SORT (SUBJECT) US-ASCII"):
            self.assertRegex(r.cmd(bad)[0], r"^T\d+ BAD ", bad)

    def test_thread(self):
        msgs = [
            "Message-ID: <1@x>\nSubject: hello\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n1\n",
            "Message-ID: <2@x>\nIn-Reply-To: <1@x>\nSubject: Re: hello\nDate: Mon, 1 Jan 2024 11:00:00 +0000\n\n2\n",
            "Message-ID: <3@x>\nReferences: <1@x> <2@x>\nSubject: Re: hello\nDate: Mon, 1 Jan 2024 12:00:00 +0000\n\n3\n",
            "Message-ID: <4@x>\nReferences: <1@x>\nSubject: Re: hello\nDate: Mon, 1 Jan 2024 13:00:00 +0000\n\n4\n",
            "Message-ID: <5@x>\nSubject: other\nDate: Sun, 31 Dec 2023 10:00:00 +0000\n\n5\n",
            "Message-ID: <6@x>\nReferences: <gone@x>\nSubject: Re: other\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\n6\n",
            "Message-ID: <7@x>\nReferences: <gone2@x>\nSubject: third\nDate: Tue, 2 Jan 2024 11:00:00 +0000\n\n7\n",
            "Message-ID: <8@x>\nReferences: <gone2@x>\nSubject: third\nDate: Tue, 2 Jan 2024 12:00:00 +0000\n\n8\n",
        ]
        r = self.folder_with(msgs)
        lines = r.expect_ok("THREAD REFERENCES US-ASCII ALL")
        self.assertEqual(lines, ["* THREAD (5 6)(1 (2 3)(4))((7)(8))"])
        lines = r.expect_ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
        self.assertEqual(lines, ["* THREAD (5 6)(1 (2)(3)(4))(7 8)"])
        lines = r.expect_ok("THREAD REFERENCES US-ASCII 2:8")
        # Without 1 its two replies hang under a dummy root.
        self.assertEqual(lines, ["* THREAD (5 6)((2 3)(4))((7)(8))"])
        uids = searched(r.expect_ok("UID SEARCH ALL"))
        self.assertEqual(r.expect_ok("UID THREAD ORDEREDSUBJECT US-ASCII 1:2"), [f"* THREAD ({uids[0]} {uids[1]})"])
        self.assertEqual(r.expect_ok("THREAD REFERENCES US-ASCII 100"), ["* THREAD"])
        self.assertRegex(r.cmd("THREAD BOGUS US-ASCII ALL")[0], r"^T\d+ BAD ")

    def test_thread_subjects_compare_without_case(self):
        r = self.folder_with([
            "Subject: alpha\nDate: Mon, 01 Mar 2021 10:00:00 +0000\n\nx\n",
            "Subject: beta\nDate: Mon, 01 Mar 2021 09:00:00 +0000\n\nx\n",
            "Subject: Re: alpha\nDate: Mon, 01 Mar 2021 12:00:00 +0000\n\nx\n",
            "Subject: re: Beta\nDate: Mon, 01 Mar 2021 08:00:00 +0000\n\nx\n",
            "Subject: Fwd: alpha\nDate: Mon, 01 Mar 2021 11:00:00 +0000\n\nx\n",
        ])
        self.assertEqual(r.expect_ok("THREAD ORDEREDSUBJECT UTF-8 ALL"), ["* THREAD (4 2)(1 (5)(3))"])
        self.assertEqual(r.expect_ok("THREAD REFERENCES UTF-8 ALL"), ["* THREAD (2 4)(1 (5)(3))"])

    def test_sort_and_thread_of_10000_messages_are_bounded(self):
        # Written straight into the folder (as a delivery would), one long
        # reply chain and many short threads with tangled References.
        ImapdSearch.folders += 1
        name = f"f{ImapdSearch.folders}"
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        c.login(self.user.name, self.PASSWORD)
        self.assertEqual(c.create(name)[0], "OK")
        c.logout()
        cur = os.path.join(self.user.maildir, "." + name, "cur")
        n = 10000
        for i in range(n):
            refs = " ".join(f"<m{j}@x>" for j in range(max(0, i - 40), i)) if i % 2 else f"<m{i // 3}@x>"
            text = (f"Message-ID: <m{i}@x>\nReferences: {refs}\nFrom: User {i % 97} <u{i % 89}@x.org>\n"
                    f"Subject: {'Re: ' * (i % 3)}topic {i % 500}\nDate: Mon, 1 Jan 2024 {i % 24:02}:00:00 +0000\n\n"
                    f"body {i}\n")
            path = os.path.join(cur, f"{1700000000 + i}.M{i}P1.test:2,")
            with open(path, "w") as f:
                f.write(text)
            os.chown(path, self.user.uid, self.user.gid)
        before = mailbox_pids(self.inst)
        r = self.raw()
        r.expect_ok(f"SELECT {name}")
        pid = (mailbox_pids(self.inst) - before).pop()
        cpu0 = cpu_seconds(pid)
        self.assertEqual(len(searched(r.expect_ok("SORT (SUBJECT DATE) US-ASCII ALL"), "SORT")), n)
        self.assertEqual(len(searched(r.expect_ok("SORT (REVERSE DISPLAYFROM ARRIVAL) US-ASCII ALL"), "SORT")), n)
        lines = r.expect_ok("THREAD REFERENCES US-ASCII ALL")
        self.assertEqual(len(lines), 1)
        self.assertEqual(sorted(int(x) for x in re.findall(r"\d+", lines[0])), list(range(1, n + 1)))
        lines = r.expect_ok("THREAD ORDEREDSUBJECT US-ASCII ALL")
        self.assertEqual(len(re.findall(r"\d+", lines[0])), n)
        cpu, rss = cpu_seconds(pid) - cpu0, peak_rss(pid)
        print(f"\n10000 messages: SORT x2 + THREAD x2 took {cpu:.2f} s CPU, peak RSS {rss >> 20} MB")
        self.assertLess(cpu, 60)
        self.assertLess(rss, 200 << 20)

    def test_context_search_updates(self):
        r = self.folder_with([f"Subject: s{i}\n\nx\n" for i in range(1, 7)])
        self.assertIn("CONTEXT=SEARCH", r.expect_ok("CAPABILITY")[0].split())
        r.expect_ok("STORE 1,2 +FLAGS (\\Seen)")
        lines = r.expect_ok("SEARCH RETURN (UPDATE ALL) OR SEEN SUBJECT s6")
        stag = f"T{r.n}"
        self.assertEqual(lines, [f'* ESEARCH (TAG "{stag}") ALL 1:2,6'])
        lines = r.expect_ok("STORE 3:4 +FLAGS.SILENT (\\Seen)")
        self.assertEqual(lines, [f'* ESEARCH (TAG "{stag}") ADDTO (0 3:4)'])
        lines = r.expect_ok("STORE 1:3 -FLAGS.SILENT (\\Seen)")
        self.assertEqual(lines, [f'* ESEARCH (TAG "{stag}") REMOVEFROM (0 1:3)'])
        # An expunge: the EXPUNGE itself takes the message out of a result
        # kept in sequence numbers; a REMOVEFROM after it would name the
        # message that now has its number (test_imapd_robust checks this).
        r.expect_ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
        lines = r.expect_ok("EXPUNGE")
        self.assertEqual(lines, ["* 4 EXPUNGE"])
        # A UID search, and another session's change seen at NOOP.
        lines = r.expect_ok("UID SEARCH RETURN (UPDATE) UNSEEN")
        utag = f"T{r.n}"
        uids = searched(r.expect_ok("UID SEARCH ALL"))
        other = self.raw()
        name = f"f{ImapdSearch.folders}"
        other.expect_ok(f"SELECT {name}")
        other.expect_ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        lines = r.expect_ok("NOOP")
        self.assertIn(f'* ESEARCH (TAG "{utag}") UID REMOVEFROM (0 {uids[0]})', lines)
        # Cancelled: no more updates.
        r.expect_ok(f'CANCELUPDATE "{stag}" "{utag}"')
        self.assertEqual([l for l in r.expect_ok("STORE 1:5 +FLAGS.SILENT (\\Seen)") if "ESEARCH" in l], [])
        self.assertRegex(r.cmd("CANCELUPDATE")[0], r"^T\d+ BAD ")
        self.assertRegex(r.cmd("SEARCH RETURN (UPDATE SAVE) ALL")[0], r"^T\d+ BAD ")
