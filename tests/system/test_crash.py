"""Crash safety: a burst of messages while send, lspawn, local, clean and
queue are killed with SIGKILL at random moments. Every message whose
injection succeeded must be delivered at least once (duplicates are
allowed; losses are not). And recovery: when rspawn or clean dies, send
stops (exit 111) so that the supervisor restarts the whole system, after
which local and remote mail flow and finished messages are cleaned."""
import os
import random
import signal
import subprocess
import threading
import time
import unittest

from harness import Instance, maildir_files, remove_test_users, wait_for
from test_remote import FakeSmtp

MESSAGES = 400
INJECTORS = 4


def pids_of(names, home):
    """Processes running one of our programs from this instance."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith(home + "/bin/") and os.path.basename(exe) in names:
            found.append((int(pid), os.path.basename(exe)))
    return found


class Crash(unittest.TestCase):
    def test_kill_9_loses_nothing(self):
        inst = Instance()
        try:
            user = inst.add_user("crashy")
            inst.start()
            accepted = set()
            lock = threading.Lock()
            kills = []

            def inject(worker):
                for i in range(worker, MESSAGES, INJECTORS):
                    tag = f"crash-{i}"
                    p = inst.inject([user.address], f"Subject: {tag}\n\n{tag}\n")
                    if p.returncode == 0:
                        with lock:
                            accepted.add(tag)

            injecting = threading.Event()
            injecting.set()

            def killer():
                # Kills until the injectors are done and at least 10 kills
                # were made, so every run really crashes the system.
                rng = random.Random(1234)
                while injecting.is_set() or len(kills) < 10:
                    time.sleep(rng.uniform(0.01, 0.1))
                    victims = pids_of({"send", "lspawn", "local", "clean", "queue", "queued"}, inst.home)
                    if not victims:
                        continue
                    pid, name = rng.choice(victims)
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills.append(name)
                    except ProcessLookupError:
                        pass
                    if name in ("send", "lspawn", "clean"):
                        # The whole system goes down with any of these, as in
                        # a crash; a supervisor would start it again.
                        try:
                            os.killpg(inst.proc.pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                        inst.proc.wait()
                        inst.proc = None
                        inst.start()

            threads = [threading.Thread(target=inject, args=(w,)) for w in range(INJECTORS)]
            k = threading.Thread(target=killer)
            k.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            injecting.clear()
            k.join(timeout=300)
            inst.stop()
            inst.start()
            inst.wait_queue_empty(timeout=120)
            delivered = set()
            for path in maildir_files(user.maildir):
                with open(path, errors="replace") as f:
                    for line in f:
                        if line.startswith("Subject: "):
                            delivered.add(line.split()[1])
                            break
            lost = accepted - delivered
            self.assertGreaterEqual(len(kills), 10, "the test must actually kill processes")
            self.assertGreater(len(accepted), MESSAGES // 2)
            self.assertEqual(lost, set(), f"lost {len(lost)} accepted messages; kills: {kills}")
            # Nothing is left behind in the queue directories.
            for d in ("todo", "state"):
                self.assertEqual(os.listdir(os.path.join(inst.home, "queue", d)), [])
        finally:
            inst.cleanup()
            remove_test_users()


class LosingAChild(unittest.TestCase):
    """send cannot restart rspawn or clean (they run as other users): it
    must stop, so that a supervisor (systemd's Restart=on-failure,
    daemontools; here the test) starts the system again."""

    def setUp(self):
        self.peer = FakeSmtp()
        self.inst = Instance()
        self.inst.control("smtproutes", f"far.example:127.0.0.1:{self.peer.port}")
        self.user = self.inst.add_user("lost")
        self.inst.start()

    def tearDown(self):
        self.inst.cleanup()
        self.peer.stop()
        remove_test_users()

    def supervise(self):
        """What a supervisor does: wait for the system to stop, check it
        stopped as a failure, start it again."""
        inst = self.inst
        code = inst.proc.wait(timeout=60)
        self.assertEqual(code, 111, "send must exit as a temporary failure\n" + inst.log()[-2000:])
        inst.proc = None
        inst.start()

    def mail_flows(self, tag):
        inst = self.inst
        before = len(self.peer.sessions)
        p = inst.inject([self.user.address, "friend@far.example"], f"Subject: {tag}\n\n{tag}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: any(f"Subject: {tag}" in open(f, errors="replace").read()
                             for f in maildir_files(self.user.maildir)), 60, f"local delivery of {tag}\n" + inst.log()[-2000:])
        wait_for(lambda: any(f"Subject: {tag}" in (s.get("data") or b"").decode(errors="replace")
                             for s in self.peer.sessions[before:]), 60, f"remote delivery of {tag}\n" + inst.log()[-2000:])
        # Finished: clean removed its files.
        q = os.path.join(inst.home, "queue")
        wait_for(lambda: all(os.listdir(os.path.join(q, d)) == [] for d in ("todo", "mess", "state")), 60,
                 "the finished message to be cleaned\n" + inst.log()[-2000:])

    def kill(self, name):
        victims = [pid for pid, n in pids_of({name}, self.inst.home) if n == name]
        self.assertEqual(len(victims), 1, f"one {name} runs")
        os.kill(victims[0], signal.SIGKILL)

    def test_rspawn_then_clean_killed(self):
        self.mail_flows("before")
        self.kill("rspawn")
        wait_for(lambda: "rspawn has exited" in self.inst.log(), 30, "send to notice rspawn's end")
        self.supervise()
        self.mail_flows("after rspawn")
        self.kill("clean")
        wait_for(lambda: "clean has exited" in self.inst.log(), 30, "send to notice clean's end")
        self.supervise()
        self.mail_flows("after clean")


if __name__ == "__main__":
    unittest.main()
