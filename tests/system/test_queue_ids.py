"""Queue ids: each message gets an id of its own, never given to another
message even when the file system reuses the inode number (ext4 does at
once); a queue written before the upgrade (digits-only ids) is still
delivered; an envelope and record whose message file is gone are removed
(with a log line), not tried for ever."""
import os
import re
import smtplib
import time
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from smtp_helpers import SmtpServer

ID = re.compile(r"^[0-9A-Za-z]{1,40}$")


def place(inst, sub, name, data):
    """Writes queue/<sub>/<name> owned and moded as the queue's own files."""
    d = os.path.join(inst.home, "queue", sub)
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    st = os.stat(d)
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, 0o640)
    return path


class QueueIds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.alice = cls.inst.add_user("alice")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def setUp(self):
        if not self.inst.proc:
            self.inst.start()

    def test_each_message_has_its_own_id_in_every_log_line(self):
        inst, alice = self.inst, self.alice
        server = SmtpServer(inst)
        ids = []
        try:
            for i in range(4):
                # One at a time, each finished before the next: its inode is
                # free again, and the next message's file gets it back.
                before = len(maildir_files(alice.maildir))
                with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as s:
                    s.ehlo("client.example")
                    s.mail("sender@example.org")
                    s.rcpt(alice.address)
                    code, text = s.data(f"Subject: id {i}\r\n\r\nbody {i}\r\n".encode())
                self.assertEqual(code, 250, text)
                m = re.search(rb" msg (\S+)$", text)
                self.assertIsNotNone(m, f"the reply names the queue id: {text!r}")
                ids.append(m.group(1).decode())
                inst.wait_maildir(alice.maildir, before + 1)
                inst.wait_queue_empty()
                # A new microsecond for the next id is certain; a new second
                # shows the ids sort by arrival in their leading part too.
                time.sleep(1.1)
            smtpd_log = server.log()
        finally:
            server.stop()
        for qid in ids:
            self.assertRegex(qid, ID)
        self.assertEqual(len(set(ids)), len(ids), f"an id was given twice: {ids}")
        self.assertEqual(sorted(ids), ids, "ids sort as the messages arrived")
        # smtpd logs through tcpserver's log, the rest through send's logger.
        log = smtpd_log + inst.log()
        for i, qid in enumerate(ids):
            lines = [l for l in log.splitlines() if re.search(rf"\b{qid}\b", l)]
            # One message's whole life, and no other message's, under its id.
            self.assertTrue(any(f"msg={qid} accepted client=127.0.0.1 " in l for l in lines), lines)
            self.assertTrue(any(f"msg={qid} new from=<sender@example.org> " in l for l in lines), lines)
            self.assertTrue(any(re.search(rf"msg={qid} to=<{re.escape(alice.address)}> channel=local relay=local "
                                          r".* status=sent ", l) for l in lines), lines)
            self.assertTrue(any(l.endswith(f"msg={qid} end") for l in lines), lines)
            self.assertEqual(sum(f"msg={qid} new " in l for l in lines), 1, lines)

    def test_queue_from_before_the_upgrade_is_delivered(self):
        """A message left in the queue by the old version, whose id is the
        bare inode number, is delivered and finished by the new send."""
        inst, alice = self.inst, self.alice
        inst.stop()
        old = "4242424242"
        place(inst, "mess", old, b"Subject: from the old queue\n\nqueued before the upgrade\n")
        place(inst, "todo", old, b"Fold@example.org\0T" + alice.address.encode() + b"\0\0")
        before = len(maildir_files(alice.maildir))
        inst.start()
        files = inst.wait_maildir(alice.maildir, before + 1)
        msg = read_message(files[-1])
        self.assertEqual(msg["Subject"], "from the old queue")
        self.assertEqual(msg["Return-Path"], "<old@example.org>")
        inst.wait_queue_empty()
        wait_for(lambda: f"msg={old} end" in inst.log(), 20, "the old message finished")
        for d in ("mess", "todo", "state"):
            self.assertEqual(os.listdir(os.path.join(inst.home, "queue", d)), [], d)

    def test_envelope_and_record_without_message_are_removed(self):
        """What a power cut can leave when clean's removal of mess/ survived
        and those of todo/ and state/ did not: removed at once with a log
        line, neither delivered nor retried for ever."""
        inst, alice = self.inst, self.alice
        inst.stop()
        gone = "1AbCdE0xyz7Q"
        now = int(time.time())
        place(inst, "todo", gone, b"Fghost@example.org\0T" + alice.address.encode() + b"\0\0")
        place(inst, "state", gone, f"postern-state 1\nF\tghost@example.org\nA\t{now}\n"
                                   f"R\tLP\t1\t{now}\t{alice.address}\tdeferred once\n".encode())
        before = len(maildir_files(alice.maildir))
        inst.start()
        wait_for(lambda: "message file is missing" in inst.log(), 30, "send's log line\n" + inst.log()[-2000:])
        self.assertIn(f"msg={gone} ", [l for l in inst.log().splitlines() if "message file is missing" in l][-1])
        inst.wait_queue_empty()
        wait_for(lambda: os.listdir(os.path.join(inst.home, "queue", "state")) == [], 20, "the record removed")
        self.assertEqual(len(maildir_files(alice.maildir)), before, "nothing is delivered for a missing message")
        self.assertNotIn(gone, inst.mailq())


if __name__ == "__main__":
    unittest.main()
