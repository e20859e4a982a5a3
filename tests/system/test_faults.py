"""Bad input and faults in local delivery and in the queue: huge header
lines, NUL bytes, bad recipient addresses, missing Maildirs, unwritable
mailboxes, and full disks (small tmpfs mounts, root only)."""
import os
import subprocess
import unittest

from harness import IS_ROOT, SRC, Instance, make_env, maildir_files, read_message, remove_test_users, wait_for
from test_local import discard_on_failure, read_bytes


def mount_tmpfs(path, size, owner=None):
    """Mounts a tmpfs of size at path (root only); returns an unmounter."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path], check=True,
                   capture_output=True, timeout=30)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
        os.chmod(path, 0o700)

    def unmount():
        if subprocess.run(["umount", path], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)
    return unmount


def fill(directory, leave=0):
    """Fills the file system of directory with one file, leaving about
    `leave` bytes free; returns the file's path."""
    path = os.path.join(directory, "filler")
    block = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.write(fd, block) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    size = os.path.getsize(path)
    os.truncate(path, max(0, size - leave))
    return path


def queue_files(inst):
    q = os.path.join(inst.home, "queue")
    return {d: sorted(os.listdir(os.path.join(q, d))) for d in ("pid", "mess", "todo")}


def queue_running(inst):
    """True while a bin/queue process of this instance runs."""
    prog = os.path.join(inst.bin, "queue")
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/exe") == prog:
                    return True
            except OSError:
                pass
    return False


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.alice = cls.inst.add_user("alice")
        cls.bob = cls.inst.add_user("bob")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, to, text, sender=None):
        sender = self.alice.address if sender is None else sender
        p = self.inst.inject(["-f", sender, to], text)
        self.assertEqual(p.returncode, 0, p.stderr)

    def addr(self, user, ext):
        return f"{user.name}-{ext}@{self.inst.me}"

    def assert_nothing_queued(self, before):
        # inject does not wait for a queue program it gave up on, which may
        # not even have started yet when inject exits: let it finish, then
        # the queue must be as it was (a file left for good fails here).
        wait_for(lambda: not queue_running(self.inst), 10, "bin/queue to exit")
        try:
            wait_for(lambda: queue_files(self.inst) == before and not queue_running(self.inst), 10, "")
        except AssertionError:
            pass
        self.assertEqual(queue_files(self.inst), before)

    # -- big and bad input ------------------------------------------------------------
    def test_long_header_line_is_delivered_intact(self):
        # Up to the 256 KB a header may hold (mail/message_rules.hpp, the
        # rule smtpd applies too); a 1 MB line is refused, nothing queued.
        inst, bob = self.inst, self.bob
        inst.wait_queue_empty()
        before = queue_files(inst)
        p = inst.inject([bob.address], "Subject: too long\nX-Long: " + "h" * (1 << 20) + "\n\nbody\n")
        self.assertEqual(p.returncode, 100, p.stderr)
        self.assertIn(b"the header is larger than 256 KB", p.stderr)
        self.assert_nothing_queued(before)
        value = "".join(chr(ord("a") + i % 26) for i in range(200 * 1024))
        before = len(maildir_files(bob.maildir))
        self.send(bob.address, f"Subject: long\nX-Long: {value}\n\nshort body\n")
        files = inst.wait_maildir(bob.maildir, before + 1, timeout=30)
        inst.wait_queue_empty()
        data = read_bytes(files[-1])
        self.assertIn(f"\nX-Long: {value}\n".encode(), data)
        self.assertTrue(data.endswith(b"\n\nshort body\n"))
        self.assertTrue(files[-1].endswith(f",S={len(data)}"), files[-1])
        msg = read_message(files[-1])
        self.assertEqual(msg["Subject"], "long")
        self.assertEqual(msg["Delivered-To"], bob.address)

    def test_nul_byte_is_refused_and_nothing_queued(self):
        inst, bob = self.inst, self.bob
        inst.wait_queue_empty()
        before = queue_files(inst)
        for text in (b"Subject: nul in the body\n\nbefore\0after\n", b"Subject: nul\0in the header\n\nbody\n"):
            p = inst.inject([bob.address], text)
            self.assertEqual(p.returncode, 100, p.stderr)
            self.assertIn(b"NUL", p.stderr)
            self.assert_nothing_queued(before)

    def test_invalid_recipient_addresses_are_refused(self):
        inst = self.inst
        inst.wait_queue_empty()
        before = queue_files(inst)
        for rcpt in ("a b", "<x>", f"x\ny@{inst.me}", f"tab\there@{inst.me}"):
            p = inst.inject([rcpt], "Subject: bad rcpt\n\nx\n")
            self.assertEqual(p.returncode, 100, (rcpt, p.stderr))
            self.assertIn(b"invalid recipient address", p.stderr, rcpt)
            self.assert_nothing_queued(before)

    # -- missing and unwritable destinations ---------------------------------------------
    def test_missing_maildir_is_deferred_until_it_exists(self):
        # Only a Maildir whose parent is the user's own directory is made on
        # first delivery (test_missing_maildir_is_made_in_the_users_directory);
        # one under a directory that is not there (a disk not mounted, a typo)
        # waits.
        inst, bob = self.inst, self.bob
        discard_on_failure(self, inst, bob, "nodir")
        bob.write(".qmail-nodir", "./NoSuchDisk/Maildir/\n")
        rcpt = self.addr(bob, "nodir")
        self.send(rcpt, "Subject: waiting for a maildir\n\nx\n")
        wait_for(lambda: "NoSuchDisk" in inst.mailq(), 20, "mailq to show the reason\n" + inst.log()[-2000:])
        q = inst.mailq()
        self.assertIn(f"local <{rcpt}>", q)
        self.assertRegex(q, r"last failure: .*NoSuchDisk")
        self.assertFalse(os.path.exists(os.path.join(bob.home, "NoSuchDisk")), "nothing made above the Maildir")
        box = bob.make_maildir("NoSuchDisk/Maildir")
        self.assertEqual(inst.retry().returncode, 0)
        files = inst.wait_maildir(box, 1)
        self.assertEqual(read_message(files[0])["Subject"], "waiting for a maildir")
        inst.wait_queue_empty()

    def test_missing_maildir_is_made_in_the_users_directory(self):
        # As Postfix does for a new account: the first delivery makes it.
        inst, bob = self.inst, self.bob
        discard_on_failure(self, inst, bob, "newdir")
        bob.write(".qmail-newdir", "./NewMaildir/\n")
        self.send(self.addr(bob, "newdir"), "Subject: first mail\n\nx\n")
        box = os.path.join(bob.home, "NewMaildir")
        files = inst.wait_maildir(box, 1)
        self.assertEqual(read_message(files[0])["Subject"], "first mail")
        for sub in ("", "/cur", "/new", "/tmp"):
            st = os.stat(box + sub)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (bob.uid, 0o700), box + sub)
        self.assertEqual([n for n in os.listdir(bob.home) if "maildirmake" in n], [], "no temporary left")
        inst.wait_queue_empty()
        self.assertIn("(made it)", inst.log())

    def test_unreadable_mbox_is_deferred_and_nothing_lost(self):
        inst, bob = self.inst, self.bob
        old = "From someone Mon Jan  5 10:00:00 2026\nSubject: old\n\nold mail\n\n"
        path = bob.write("locked-out.mbox", old, 0o000)
        discard_on_failure(self, inst, bob, "mode000")
        bob.write(".qmail-mode000", "./locked-out.mbox\n")
        rcpt = self.addr(bob, "mode000")
        self.send(rcpt, "Subject: for a mode 000 mbox\n\nx\n")
        wait_for(lambda: "locked-out.mbox" in inst.mailq(), 20, "mailq to show the reason\n" + inst.log()[-2000:])
        self.assertIn("Permission denied", inst.mailq())
        self.assertEqual(read_bytes(path), old.encode())
        self.assertFalse(os.path.exists(path + ".lock"), "the dot lock must be removed on failure")
        os.chmod(path, 0o600)
        self.assertEqual(inst.retry().returncode, 0)
        wait_for(lambda: b"Subject: for a mode 000 mbox" in read_bytes(path), 20, "the retry")
        inst.wait_queue_empty()
        data = read_bytes(path)
        self.assertTrue(data.startswith(old.encode()))
        self.assertTrue(data.endswith(b"\n\nx\n\n"))

    def test_mbox_in_unwritable_directory_is_deferred(self):
        inst, bob = self.inst, self.bob
        if not (IS_ROOT and inst.multi):
            self.skipTest("needs a directory the user cannot write: root and a multi-user instance")
        d = os.path.join(bob.home, "rootdir")
        os.makedirs(d)
        os.chmod(d, 0o755)  # root's
        discard_on_failure(self, inst, bob, "rootdir")
        bob.write(".qmail-rootdir", "./rootdir/box\n")
        rcpt = self.addr(bob, "rootdir")
        self.send(rcpt, "Subject: for an unwritable directory\n\nx\n")
        wait_for(lambda: "rootdir/box" in inst.mailq(), 20, "mailq to show the reason\n" + inst.log()[-2000:])
        self.assertIn("Permission denied", inst.mailq())
        self.assertEqual(os.listdir(d), [])
        os.chown(d, bob.uid, bob.gid)
        self.assertEqual(inst.retry().returncode, 0)
        box = os.path.join(d, "box")
        wait_for(lambda: os.path.exists(box) and b"for an unwritable directory" in read_bytes(box), 20, "the retry")
        inst.wait_queue_empty()
        self.assertEqual(os.listdir(d), ["box"])

    # -- full disks -------------------------------------------------------------------------
    def test_full_disk_maildir_is_deferred_then_delivered(self):
        inst, bob = self.inst, self.bob
        if not IS_ROOT:
            self.skipTest("mounting a tmpfs needs root")
        full = os.path.join(bob.home, "FullMd")
        self.addCleanup(mount_tmpfs(full, "64k", bob))
        box = bob.make_maildir("FullMd/Maildir")
        filler = fill(full, leave=8192)
        discard_on_failure(self, inst, bob, "fullmd")
        bob.write(".qmail-fullmd", "./FullMd/Maildir/\n")
        rcpt = self.addr(bob, "fullmd")
        # About 27 KB: more than the 8 KB left, less than the 64 KB there are.
        body = "".join(f"line {i:06d} of a message too big for what is left\n" for i in range(500))
        self.send(rcpt, "Subject: to a full maildir\n\n" + body)
        wait_for(lambda: "No space left on device" in inst.mailq(), 20,
                 "mailq to show the reason\n" + inst.mailq() + inst.log()[-2000:])
        q = inst.mailq()
        self.assertIn(f"local <{rcpt}>", q)
        self.assertIn("4.2.2", q)
        self.assertEqual(maildir_files(box), [])
        self.assertEqual(maildir_files(box, "tmp"), [], "the partial file in tmp must be removed")
        os.unlink(filler)
        self.assertEqual(inst.retry().returncode, 0)
        files = inst.wait_maildir(box, 1)
        inst.wait_queue_empty()
        msg = read_message(files[0])
        self.assertEqual(msg["Subject"], "to a full maildir")
        self.assertEqual(msg.get_content(), body)

    def test_full_disk_mbox_is_cut_back_then_delivered(self):
        inst, bob = self.inst, self.bob
        if not IS_ROOT:
            self.skipTest("mounting a tmpfs needs root")
        full = os.path.join(bob.home, "FullMbox")
        self.addCleanup(mount_tmpfs(full, "64k", bob))
        old = "From someone Mon Jan  5 10:00:00 2026\nSubject: old\n\nold mail\n\n"
        path = bob.write("FullMbox/box", old, 0o600)
        filler = fill(full, leave=8192)
        discard_on_failure(self, inst, bob, "fullmbox")
        bob.write(".qmail-fullmbox", "./FullMbox/box\n")
        rcpt = self.addr(bob, "fullmbox")
        # About 27 KB: more than the 8 KB left, less than the 64 KB there are.
        body = "".join(f"line {i:06d} of a message too big for what is left\n" for i in range(500))
        self.send(rcpt, "Subject: to a full mbox\n\n" + body)
        wait_for(lambda: "No space left on device" in inst.mailq(), 20,
                 "mailq to show the reason\n" + inst.mailq() + inst.log()[-2000:])
        self.assertIn("4.2.2", inst.mailq())
        self.assertEqual(read_bytes(path), old.encode(), "a failed append must be cut back")
        self.assertFalse(os.path.exists(path + ".lock"))
        os.unlink(filler)
        self.assertEqual(inst.retry().returncode, 0)
        wait_for(lambda: read_bytes(path).endswith(b"too big for what is left\n\n"), 20, "the retry")
        inst.wait_queue_empty()
        data = read_bytes(path)
        self.assertTrue(data.startswith(old.encode()))
        self.assertIn(b"\nSubject: to a full mbox\n", data)
        self.assertEqual(data.count(b"\nline 000499 of"), 1)


class FullQueue(unittest.TestCase):
    """A queue on a full disk: inject says so (temporary), and nothing is
    left behind in the queue."""

    def setUp(self):
        if not IS_ROOT:
            self.skipTest("mounting a tmpfs needs root")
        self.inst = inst = Instance()
        self.addCleanup(remove_test_users)
        self.addCleanup(inst.cleanup)
        self.bob = inst.add_user("bob")
        self.addCleanup(mount_tmpfs(os.path.join(inst.home, "queue"), "256k"))
        self.addCleanup(inst.stop)  # cleanups run last first: stop before the unmount
        cmd = ["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={inst.home}"]
        if getattr(inst, "aliases", None):
            cmd.append(f"ALIASES={inst.aliases}")
        if not inst.multi:
            cmd.append("SINGLE=1")
        if os.environ.get("POSTERN_SAN"):
            cmd.append("SAN=1")
        out = subprocess.run(cmd + ["setup"], capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        inst.start()

    def test_inject_into_a_full_queue_fails_temporarily(self):
        inst, bob = self.inst, self.bob
        q = os.path.join(inst.home, "queue")
        self.assertTrue(os.path.ismount(q))
        before = queue_files(inst)
        self.assertEqual(before, {"pid": [], "mess": [], "todo": []})
        filler = fill(q, leave=16384)
        # About 140 KB: more than the 16 KB left, less than the 256 KB there are.
        big = "Subject: too big for the queue\n\n" + "".join(
            f"body line {i:06d} that will not fit\n" for i in range(4000))
        p = inst.inject([bob.address], big)
        self.assertEqual(p.returncode, 111, p.stderr)
        self.assertRegex(p.stderr.decode(errors="replace"), r"(?i)disk full|write error|no space")
        self.assertEqual(queue_files(inst), before, "nothing may be left in the queue")
        self.assertIn("0 messages in the queue", inst.mailq())
        # Space again: the same message goes through.
        os.unlink(filler)
        p = inst.inject([bob.address], big)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(bob.maildir, 1)
        self.assertEqual(read_message(files[0])["Subject"], "too big for the queue")
        inst.wait_queue_empty()


class QueueNeverReplaces(unittest.TestCase):
    """queue links the envelope into todo/ (link(2), as qmail-queue does),
    so an entry already there under the new message's id is never
    replaced: queue fails temporarily (66) and leaves it as it was. The
    collision is provoked by writing todo/<id> while queue, with its
    message file already in mess/, still waits for the rest of the input.
    send is not started, so nothing else touches the queue."""

    def test_existing_todo_entry_is_left_alone(self):
        inst = Instance()
        try:
            q = os.path.join(inst.home, "queue")
            env_r, env_w = os.pipe()
            p = subprocess.Popen([os.path.join(inst.bin, "queue")], stdin=subprocess.PIPE, stdout=env_r,
                                 stderr=subprocess.PIPE, env=make_env(), cwd="/")
            os.close(env_r)
            try:
                p.stdin.write(b"Subject: collides\n\n")
                p.stdin.flush()
                ids = wait_for(lambda: os.listdir(os.path.join(q, "mess")), 30, "queue's message file in mess/")
                self.assertEqual(len(ids), 1, ids)
                todo = os.path.join(q, "todo", ids[0])
                stale = b"Fstale@example.org\0Tsomeone@example.org\0\0"
                with open(todo, "wb") as f:
                    f.write(stale)
                p.stdin.write(b"body\n")
                p.stdin.close()
                os.write(env_w, b"Fsender@example.org\0Trcpt@example.org\0\0")
            finally:
                os.close(env_w)
            err = p.stderr.read().decode(errors="replace")
            self.assertEqual(p.wait(timeout=60), 66, err)
            self.assertIn("exists already", err)
            with open(todo, "rb") as f:
                self.assertEqual(f.read(), stale, "the existing todo/ entry must not be replaced")
            self.assertEqual(os.listdir(os.path.join(q, "mess")), [], "queue removes the message it did not commit")
            self.assertEqual(os.listdir(os.path.join(q, "pid")), [])
        finally:
            inst.cleanup()


if __name__ == "__main__":
    unittest.main()
