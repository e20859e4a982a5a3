"""imapd's folder state seen by clients: two sessions of one user never
undo each other's flag changes, a folder deleted and made again never
reuses a UIDVALIDITY, and messages nobody has seen yet are \\Recent to
EXAMINE and STATUS. Real tcpserver, real imapd, Python's imaplib."""
import os
import re
import unittest

from imap_raw import ImapTestCase


def flags_of(client, num):
    typ, data = client.fetch(str(num), "(FLAGS)")
    assert typ == "OK", data
    return set(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode().split())


class ImapdStore(ImapTestCase):
    USER = "salice"

    def login(self):
        return self.imaplib_login()

    def test_two_sessions_never_lose_each_others_flags(self):
        self.put("Subject: one\n\nx\n")
        a, b = self.login(), self.login()
        for c in (a, b):
            self.assertEqual(c.select("INBOX")[0], "OK")
        n = int(a.select("INBOX")[1][0])
        b.select("INBOX")
        a.store(str(n), "+FLAGS", "(\\Seen)")
        b.noop()  # b now knows \Seen
        # a adds \Answered; b, whose copy still says \Seen alone, removes \Seen
        self.assertEqual(a.store(str(n), "+FLAGS", "(\\Answered)")[0], "OK")
        self.assertEqual(b.store(str(n), "-FLAGS", "(\\Seen)")[0], "OK")
        c = self.login()
        c.select("INBOX")
        self.assertEqual(flags_of(c, n) - {"\\Recent"}, {"\\Answered"})
        # and the same with keywords, both ways at once
        a.store(str(n), "+FLAGS", "($Work)")
        b.store(str(n), "+FLAGS", "(\\Flagged)")
        c.noop()
        self.assertEqual(flags_of(c, n) - {"\\Recent"}, {"\\Answered", "$Work", "\\Flagged"})
        for x in (a, b, c):
            x.logout()

    def test_expunge_finds_a_message_another_program_renamed(self):
        # mutt (or Dovecot) changes a flag by renaming the file, without
        # the folder lock: EXPUNGE must still remove the message, not tell
        # the client it is gone while the file stays.
        c = self.login()
        c.create("Renamed")
        self.put("Subject: renamed\n\nx\n", ".Renamed")
        self.assertEqual(c.select("Renamed")[0], "OK")
        self.assertEqual(c.store("1", "+FLAGS", "(\\Deleted)")[0], "OK")
        cur = os.path.join(self.user.maildir, ".Renamed", "cur")
        [name] = os.listdir(cur)
        os.rename(os.path.join(cur, name), os.path.join(cur, name.split(":")[0] + ":2,FT"))
        typ, data = c.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"1"])
        self.assertEqual(os.listdir(cur), [])
        c.logout()

    def test_a_folder_made_again_gets_a_new_uidvalidity(self):
        c = self.login()
        seen = []
        for _ in range(3):  # all within a second or two
            self.assertEqual(c.create("Again")[0], "OK")
            self.assertEqual(c.select("Again")[0], "OK")
            seen.append(int(c.untagged_responses["UIDVALIDITY"][0]))
            c.close()
            self.assertEqual(c.delete("Again")[0], "OK")
        self.assertEqual(len(set(seen)), 3, seen)
        self.assertEqual(sorted(seen), seen)
        c.logout()

    def test_examine_and_status_show_recent_mail(self):
        c = self.login()
        c.create("Fresh")
        self.assertEqual(c.append("Fresh", None, None, b"Subject: appended\r\n\r\nx\r\n")[0], "OK")
        self.put("Subject: hi\n\nbody\n", ".Fresh")
        typ, data = c.status("Fresh", "(MESSAGES RECENT)")
        self.assertIn(b"RECENT 2", data[0])
        typ, data = c.select("Fresh", readonly=True)
        self.assertEqual(c.untagged_responses.get("RECENT"), [b"2"])
        self.assertIn("\\Recent", flags_of(c, 1))
        c.close()
        # a SELECT claims them; STATUS and a second SELECT no longer see them
        other = self.login()
        other.select("Fresh")
        self.assertEqual(other.untagged_responses.get("RECENT"), [b"2"])
        typ, data = c.status("Fresh", "(RECENT)")
        self.assertIn(b"RECENT 0", data[0])
        c.select("Fresh")
        self.assertEqual(c.untagged_responses.get("RECENT"), [b"0"])
        for x in (c, other):
            x.logout()


if __name__ == "__main__":
    unittest.main()
