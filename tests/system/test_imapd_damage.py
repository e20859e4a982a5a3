"""imapd with its Maildir damaged under it (issue 16): a dovecot-uidlist
overwritten with junk, a message file cut short after delivery, a message
file removed while a session has it, and the selected folder renamed by
another program. The session must go on answering in IMAP's terms (never a
crash, a hang or a literal whose length lies), and no message may be lost:
a new session sees every message that is still on disk.
Trusts: the raw client of imap_raw. Returns: one result per damage."""
import os
import re
import time

from imap_raw import ImapTestCase


class ImapdDamage(ImapTestCase):
    USER = "sdamage"
    PASSWORD = "damage-pw"
    counter = 0

    def deliver(self, folder="", count=1, body="body\n"):
        names = []
        for _ in range(count):
            ImapdDamage.counter += 1
            text = f"Subject: d{ImapdDamage.counter}\n\n{body}"
            names.append(self.put(text, folder))
        return names

    def folder(self, name):
        c = self.login()
        c.expect_ok(f"CREATE {name}")
        c.expect_ok("LOGOUT")
        return os.path.join(self.user.maildir, "." + name)

    def subjects(self, box):
        """The Subject of every message a fresh session sees in box."""
        c = self.login()
        c.expect_ok(f"SELECT {box}")
        untagged = c.expect_ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if self.exists(c, box) else []
        c.expect_ok("LOGOUT")
        return sorted(re.findall(r"Subject: (d\d+)", "\n".join(untagged)))

    def exists(self, c, box):
        _, untagged = c.cmd(f"STATUS {box} (MESSAGES)")
        return int(re.search(r"MESSAGES (\d+)", " ".join(untagged)).group(1))

    def test_junk_uidlist_under_an_open_session(self):
        self.folder("Junked")
        self.deliver(".Junked", 3)
        c = self.login()
        c.expect_ok("SELECT Junked")
        c.expect_ok("FETCH 1:* (UID FLAGS)")
        with open(os.path.join(self.user.maildir, ".Junked", "dovecot-uidlist"), "wb") as f:
            f.write(b"\x00\xffnot a uidlist\n3 V x\n\n")
        tagged, _ = c.cmd("NOOP")
        self.assertRegex(tagged, r"^\S+ (OK|NO)")
        tagged, untagged = c.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertRegex(tagged, r"^\S+ (OK|NO)")
        self.assertEqual(len(self.subjects("Junked")), 3)

    def test_message_cut_short_reads_back_whole(self):
        self.folder("Short")
        name = self.deliver(".Short", 1, body="x" * 5000 + "\n")[0]
        path = os.path.join(self.user.maildir, ".Short", "new", name)
        with open(path, "r+b") as f:
            f.truncate(40)
        c = self.login()
        c.expect_ok("SELECT Short")
        untagged = c.expect_ok("FETCH 1 (RFC822.SIZE BODY[])")
        text = "\n".join(untagged)
        m = re.search(r"BODY\[\] \{(\d+)\}\r\n", text)
        self.assertTrue(m, text)
        size = int(re.search(r"RFC822.SIZE (\d+)", text).group(1))
        literal = text[m.end():m.end() + int(m.group(1))]
        self.assertEqual(len(literal), int(m.group(1)), "the literal is as long as it says")
        self.assertEqual(size, int(m.group(1)), "RFC822.SIZE is what BODY[] gives")
        c.expect_ok("NOOP")

    def test_message_removed_under_an_open_session(self):
        self.folder("Gone")
        names = self.deliver(".Gone", 3)
        c = self.login()
        c.expect_ok("SELECT Gone")
        c.expect_ok("FETCH 1:* (FLAGS)")
        cur = os.path.join(self.user.maildir, ".Gone", "cur")
        victim = [n for n in os.listdir(cur) if n.startswith(names[1])][0]
        os.unlink(os.path.join(cur, victim))
        tagged, untagged = c.cmd("FETCH 2 (BODY[])")
        self.assertRegex(tagged, r"^\S+ (OK|NO)", untagged)
        tagged, untagged = c.cmd("NOOP")
        self.assertRegex(tagged, r"^\S+ OK")
        self.assertIn("* 2 EXPUNGE", untagged)
        tagged, _ = c.cmd("STORE 1:* +FLAGS (\\Flagged)")
        self.assertRegex(tagged, r"^\S+ OK")
        self.assertEqual(len(self.subjects("Gone")), 2)

    def test_selected_folder_renamed_underneath(self):
        d = self.folder("Moving")
        self.deliver(".Moving", 2)
        c = self.login()
        c.expect_ok("SELECT Moving")
        c.expect_ok("FETCH 1:* (FLAGS)")
        os.rename(d, os.path.join(self.user.maildir, ".Moved"))
        for command in ("NOOP", "FETCH 1:* (FLAGS BODY.PEEK[])", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE"):
            tagged, untagged = c.cmd(command)
            if tagged.startswith("* BYE"):
                break
            self.assertRegex(tagged, r"^\S+ (OK|NO)", (command, untagged))
        # nothing lost: the messages are in the folder under its new name
        time.sleep(0.1)
        self.assertEqual(len(self.subjects("Moved")), 2)
