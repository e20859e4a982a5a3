"""Power cuts: a real multi-user instance whose queue and recipient's Maildir
live on crashfs (tests/crashfs), a FUSE file system that logs every change
and every fsync. Messages go in through inject and through smtpd under
tcpserver; each acknowledgement (exit 0, 250) is noted with the log's
operation number at that instant. Then the power is cut (every operation
fails with EIO), every process is killed with SIGKILL, and for many cut
points spread over the log, crash states are rebuilt as the model of
tests/crashfs/README allows (only what was made durable; everything; prefixes
of the pending changes; random allowed subsets with torn writes). Each state
is put in place and the instance started on it, and the checks are what an
admin would look at: every message acknowledged before the cut is in the
Maildir, nothing half-written is there (bodies compared byte for byte),
each delivery carries its own envelope (the Return-Path it had without a
cut: inode numbers are reused at once, and queue ids hold the time beside
the inode so that a record or envelope of an earlier message is never
taken for a newer one's), and the queue empties, orphans included
(clean's sweep, with their age faked).

Duplicates are allowed (DESIGN.md's invariant 2, as in qmail and Postfix: a
cut between the Maildir's sync and the queue's "done" delivers again) and
reported, not failed. Two more tests run the same workload with fsync of
directories, then of files, made a no-op in the file system, and must find
a lost message: the checker can fail.

POWERCUT_POINTS=N (default 10) sets the number of cut points, POWERCUT_SEED
the random choices. Every kind of damage fails the test: losses,
half-written deliveries, a message delivered with another message's
envelope (ids were inode numbers and reused), and an envelope and record
left without their message file and retried for ever (stuck).
POWERCUT_STRICT=0 only prints the last two, to look at a run as a whole."""
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import time
import unittest

import crashstate
from harness import SRC, Instance, TcpServer, remove_test_users, wait_for
from smtp_helpers import daemon_ids

POINTS = int(os.environ.get("POWERCUT_POINTS", "10"))
STRICT = os.environ.get("POWERCUT_STRICT", "1") != "0"
SEED = int(os.environ.get("POWERCUT_SEED", "13"))
CRASHFS = os.path.join(SRC, "build", "obj", "crashfs")
SUBJECT = re.compile(rb"^Subject: (pc-\d+)\s*$", re.M)
RETURN_PATH = re.compile(rb"^Return-Path: .*$", re.M)


def body_of(tag, size):
    """A body of about size bytes that names its message on every line, so a
    torn or mixed file can never pass for a whole one."""
    rng = random.Random(tag)
    lines = []
    total = 0
    while total < size:
        line = f"{tag} {total:08d} " + "".join(rng.choice("abcdefghij0123456789") for _ in range(60)) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


class Run:
    """One recorded run on crashfs, then its crash states checked."""

    def __init__(self, inst, user, pristine, name, fs_flags=()):
        self.inst, self.user, self.pristine = inst, user, pristine
        self.dir = os.path.join(inst.tmp, name)
        self.backing = os.path.join(self.dir, "backing")
        self.mnt = os.path.join(self.dir, "mnt")
        self.logpath = os.path.join(self.dir, "ops.log")
        os.makedirs(self.mnt)
        subprocess.run(["cp", "-a", pristine, self.backing], check=True)
        self.snapshot = crashstate.Snapshot(self.backing)
        with open(os.path.join(self.dir, "fs.err"), "wb") as err:
            self.fs = subprocess.Popen([CRASHFS, *fs_flags, self.backing, self.logpath, self.mnt,
                                        "-o", "allow_other,default_permissions"], stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: os.path.ismount(self.mnt), 20, "crashfs to mount")
        self.point_at(self.mnt)
        self.bodies, self.acks, self.return_paths = {}, {}, {}

    def point_at(self, root):
        """The instance's queue and the user's Maildir are symlinks into root."""
        for link, target in ((os.path.join(self.inst.home, "queue"), os.path.join(root, "queue")),
                             (self.user.maildir, os.path.join(root, "Maildir"))):
            tmp = link + ".new"
            os.symlink(target, tmp)
            os.replace(tmp, link)

    def op_count(self):
        with open(self.logpath, "rb") as f:
            return f.read().count(b"\n")

    # -- the recorded run -------------------------------------------------
    def workload(self, messages):
        inst, user = self.inst, self.user
        inst.start(timeout=60)
        uid, gid = daemon_ids(inst)
        smtpd = TcpServer(inst, "smtpd", options=["-l", "0", "-u", str(uid), "-g", str(gid)])
        try:
            self.send(smtpd, messages)
            wait_for(lambda: self.delivered_on(self.mnt) >= len(self.acks), 120,
                     "the run's deliveries\n" + inst.log()[-2000:])
            wait_for(lambda: not os.listdir(os.path.join(self.mnt, "queue", "todo")), 60, "the run's queue to empty")
            # Each message's envelope sender as delivered without a cut: a
            # crash state must never pair a message with another envelope.
            for sub in ("new", "cur"):
                d = os.path.join(self.mnt, "Maildir", sub)
                for f in os.listdir(d):
                    with open(os.path.join(d, f), "rb") as fh:
                        text = fh.read()
                    m = SUBJECT.search(text)
                    if m:
                        self.return_paths[m.group(1).decode()] = RETURN_PATH.search(text).group(0)
            # The cut: from here on every operation fails.
            self.fs.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            before = self.op_count()
            r = inst.inject([user.address], b"Subject: after the cut\n\nlost\n")
            self.refused_after_cut = r.returncode != 0 and self.op_count() == before
        finally:
            # Power off: everything dies at once, nothing gets to clean up.
            for proc in (inst.proc, smtpd.proc):
                if proc:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait()
            inst.proc = None
            self.unmount()

    def message(self, i):
        """Message i: its tag, and its text with its body noted."""
        tag = f"pc-{i}"
        # Big ones take several writes, so a torn write can show.
        body = body_of(tag, 150_000 if i % 3 == 2 else 2_000)
        self.bodies[tag] = body
        head = f"From: <{self.user.address}>\nTo: <{self.user.address}>\nSubject: {tag}\n\n".encode()
        return tag, head + body

    def send(self, smtpd, messages):
        """One at a time, by turns through inject and smtpd."""
        inst, user = self.inst, self.user
        for i in range(messages):
            tag, text = self.message(i)
            if i % 2 == 0:
                r = inst.inject([user.address], text)
                acked = r.returncode == 0
            else:
                with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=60) as s:
                    # smtplib sends bytes as given: SMTP wants CRLF.
                    s.sendmail(user.address, [user.address], text.replace(b"\n", b"\r\n"))
                acked = True
            if acked:
                self.acks[tag] = self.op_count()

    def delivered_on(self, root):
        return sum(len(os.listdir(os.path.join(root, "Maildir", sub))) for sub in ("new", "cur"))

    def unmount(self):
        if self.fs.poll() is None:
            self.fs.send_signal(signal.SIGTERM)
            try:
                self.fs.wait(timeout=20)
            except subprocess.TimeoutExpired:
                subprocess.run(["umount", "-l", self.mnt])
                self.fs.kill()
                self.fs.wait()
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", "-l", self.mnt])

    # -- the crash states ------------------------------------------------------
    def check_states(self, points, states_per_cut=(2, 2), only_durable=False, wait=20, stop_at_loss=False):
        """Checks each crash state of each cut point; returns findings."""
        log = crashstate.Log(self.logpath, self.snapshot)
        rng = crashstate.make_rng(SEED)
        found = {"states": 0, "cuts": len(points), "lost": [], "corrupt": [], "duplicates": [], "stuck": [],
                 "orphans": 0, "unswept": [], "misdelivered": []}
        seen = set()
        for cut in points:
            states = log.states(cut, rng, *states_per_cut)
            for name, kept, torn in states:
                if only_durable and name != "durable only":
                    continue
                tree, attrs = log.build(cut, kept, torn)
                digest = log.digest(tree, attrs)
                if digest in seen:
                    continue
                seen.add(digest)
                found["states"] += 1
                where = os.path.join(self.dir, "state")
                shutil.rmtree(where, ignore_errors=True)
                log.write(tree, attrs, where)
                self.recover(where, cut, name, log, found, wait)
                if stop_at_loss and found["lost"]:
                    return found
        return found

    def recover(self, where, cut, name, log, found, wait):
        inst = self.inst
        self.point_at(where)
        inst.start(timeout=60)
        todo = os.path.join(where, "queue", "todo")
        stuck = False
        try:
            wait_for(lambda: not os.listdir(todo), wait, "recovery")
        except AssertionError:
            stuck = True
            found["stuck"].append((cut, name, sorted(os.listdir(todo))))
        inst.stop()
        counts = {}
        for sub in ("new", "cur"):
            d = os.path.join(where, "Maildir", sub)
            for f in os.listdir(d):
                with open(os.path.join(d, f), "rb") as fh:
                    text = fh.read().replace(b"\r\n", b"\n")
                m = SUBJECT.search(text)
                tag = m.group(1).decode() if m else None
                body = text.split(b"\n\n", 1)[1] if b"\n\n" in text else None
                if tag not in self.bodies or body != self.bodies[tag]:
                    found["corrupt"].append((cut, name, f, len(text), tag))
                    continue
                rp = RETURN_PATH.search(text)
                if rp is None or rp.group(0) != self.return_paths.get(tag):
                    found["misdelivered"].append((cut, name, tag, rp.group(0).decode() if rp else None))
                counts[tag] = counts.get(tag, 0) + 1
        for tag, at in self.acks.items():
            if at <= cut and tag not in counts:
                found["lost"].append((cut, name, tag, at))
        for tag, n in counts.items():
            if n > 1:
                found["duplicates"].append((cut, name, tag, n))
        mess = os.path.join(where, "queue", "mess")
        orphans = os.listdir(mess)
        if orphans and not stuck:
            # Abandoned message files: clean sweeps them once 36 hours old.
            found["orphans"] += len(orphans)
            old = time.time() - 40 * 3600
            for f in orphans:
                os.utime(os.path.join(mess, f), (old, old))
            inst.start(timeout=60)
            try:
                wait_for(lambda: not os.listdir(mess), 30, "clean's sweep")
            except AssertionError:
                found["unswept"].append((cut, name, sorted(os.listdir(mess))))
            inst.stop()


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists("/dev/fuse"), "needs root and /dev/fuse")
class PowerCut(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run(["make", "-s", "-C", SRC, "build/obj/crashfs"], check=True, capture_output=True, timeout=600)
        cls.inst = Instance(multi=True)
        cls.user = cls.inst.add_user("cut")
        # The queue and the Maildir as made by setup, kept apart: each run
        # starts from a copy of them.
        cls.pristine = os.path.join(cls.inst.tmp, "pristine")
        os.makedirs(cls.pristine)
        os.chmod(cls.pristine, 0o755)
        shutil.move(os.path.join(cls.inst.home, "queue"), os.path.join(cls.pristine, "queue"))
        shutil.move(cls.user.maildir, os.path.join(cls.pristine, "Maildir"))

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def test_acknowledged_mail_survives_every_cut(self):
        started = time.time()
        run = Run(self.inst, self.user, self.pristine, "run")
        run.workload(messages=8)
        self.assertTrue(run.refused_after_cut, "after the cut, inject must fail and change nothing")
        self.assertEqual(len(run.acks), 8, "every message of the run is acknowledged")
        log = crashstate.Log(run.logpath, run.snapshot)
        points = crashstate.cut_points(log, list(run.acks.values()), POINTS, crashstate.make_rng(SEED))
        found = run.check_states(points)
        print(f"\npowercut: {log.count} operations, {found['cuts']} cut points, {found['states']} crash states, "
              f"{len(found['duplicates'])} duplicate deliveries, {found['orphans']} orphans swept, "
              f"{time.time() - started:.0f}s")
        for d in found["duplicates"][:5]:
            print(f"powercut: duplicate (allowed): cut {d[0]}, {d[1]}: {d[2]} delivered {d[3]} times")
        detail = "\n".join(f"{k}: {found[k]}" for k in ("lost", "corrupt", "misdelivered", "stuck", "unswept"))
        first = (found["lost"] or found["corrupt"] or found["misdelivered"] or found["stuck"] or [(0,)])[0][0]
        context = log.describe(first - 40, first) if first else ""
        if first:
            # The whole log outlives the instance's temp dir, to be read.
            keep = f"/tmp/powercut-ops-{os.getpid()}.log"
            shutil.copy(run.logpath, keep)
            context += f"\nthe whole log: {keep}"
        self.assertEqual(found["lost"], [], detail + "\nthe log before the first:\n" + context)
        self.assertEqual(found["corrupt"], [], detail + "\n" + context)
        for kind in ("misdelivered", "stuck"):
            for f in found[kind]:
                print(f"powercut: {kind}: {f}")
            if STRICT:
                self.assertEqual(found[kind], [], detail + "\n" + context)
        self.assertEqual(found["unswept"], [], detail)

    def lost_when_ignored(self, flag):
        run = Run(self.inst, self.user, self.pristine, flag.strip("-"), fs_flags=[flag])
        run.workload(messages=3)
        self.assertEqual(len(run.acks), 3)
        found = run.check_states(sorted(run.acks.values()), only_durable=True, wait=10, stop_at_loss=True)
        return found

    def test_missing_directory_fsync_loses_mail(self):
        """fsync of a directory made a no-op, as if queue and local did not
        call it (qmail's old loss on Linux): the checker must see a loss."""
        found = self.lost_when_ignored("--ignore-dir-fsync")
        self.assertNotEqual(found["lost"], [], f"no loss found: {found}")

    def test_missing_file_fsync_loses_mail(self):
        found = self.lost_when_ignored("--ignore-file-fsync")
        self.assertNotEqual(found["lost"] + found["corrupt"], [], f"no loss found: {found}")


if __name__ == "__main__":
    unittest.main()
