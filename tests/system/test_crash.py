"""Crash safety: a burst of messages while send, lspawn, local, clean and
queue are killed with SIGKILL at random moments. Every message whose
injection succeeded must be delivered at least once (duplicates are
allowed; losses are not)."""
import os
import random
import signal
import subprocess
import threading
import time
import unittest

from harness import Instance, maildir_files, remove_test_users, wait_for

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
                    victims = pids_of({"send", "lspawn", "local", "clean", "queue"}, inst.home)
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


if __name__ == "__main__":
    unittest.main()
