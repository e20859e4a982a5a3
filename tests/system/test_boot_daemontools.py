"""The daemontools service directory as shipped: conf-home/boot/daemontools
copied the way INSTALL says, run by the real svscan, supervise and
multilog (Debian's daemontools). 400 messages must all be delivered by the
boot variant make setup was given (not a hard-coded ./Maildir/), with the
log kept by multilog as the log user; svc -d stops postern and svc -u
starts it again. Needs root (a multi-user instance, setuidgid)."""
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import IS_ROOT, Instance, conf_user, make_env, remove_test_users, wait_for

MESSAGES = 400


def processes_under(root):
    """Pids of the processes whose working directory or program is under
    root (svscan, supervise, multilog and postern's own)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        for link in ("cwd", "exe"):
            try:
                if os.readlink(f"/proc/{name}/{link}").startswith(root + "/"):
                    found.append(int(name))
                    break
            except OSError:
                pass
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def mbox_count(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    return data.count(b"\nFrom ") + data.startswith(b"From ")


@unittest.skipUnless(IS_ROOT, "daemontools' setuidgid and a multi-user instance need root")
@unittest.skipUnless(shutil.which("svscan") and shutil.which("multilog"), "daemontools is not installed (make deps)")
class DaemontoolsAsShipped(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Another variant than conf-boot's maildir, so that a run script
        # with ./Maildir/ written into it shows.
        os.environ["BOOT"] = "home"
        try:
            cls.inst = Instance(multi=True)
        finally:
            del os.environ["BOOT"]
        cls.user = cls.inst.add_user("dt")
        cls.mbox = os.path.join(cls.user.home, "Mailbox")
        # As INSTALL says: copy the directory, link it into svscan's.
        cls.service = os.path.join(cls.inst.tmp, "postern-service")
        subprocess.run(["cp", "-r", os.path.join(cls.inst.home, "boot", "daemontools"), cls.service], check=True)
        cls.scandir = os.path.join(cls.inst.tmp, "service")
        os.mkdir(cls.scandir)
        os.symlink(cls.service, os.path.join(cls.scandir, "postern"))
        cls.svscan = subprocess.Popen(["svscan", cls.scandir], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True, env=make_env(), cwd="/")
        cls.current = os.path.join(cls.service, "log", "main", "current")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["svc", "-dx", cls.service, os.path.join(cls.service, "log")], capture_output=True, timeout=30)
        cls.svscan.kill()
        cls.svscan.wait()
        # supervise and what it ran: stop whatever is left of this instance.
        deadline = time.time() + 30
        while time.time() < deadline:
            left = processes_under(cls.inst.tmp)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        cls.inst.cleanup()
        remove_test_users()

    def log(self):
        try:
            with open(self.current, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def all_logs(self):
        main = os.path.dirname(self.current)
        text = ""
        for name in sorted(os.listdir(main)):
            if name == "current" or (name.startswith("@") and name.endswith(".s")):
                with open(os.path.join(main, name), errors="replace") as f:
                    text += f.read()
        return text

    def send_running(self):
        return [p for p in processes_under(self.inst.home) if comm(p) == "send"]

    def svstat(self):
        return subprocess.run(["svstat", self.service], capture_output=True, text=True, timeout=10).stdout

    def test_1_delivers_with_multilog(self):
        wait_for(lambda: "status: started" in self.log(), 60,
                 "postern to start under svscan, logging through multilog\nlog: " + self.log()[-2000:])
        # multilog runs as the log user and keeps its files in log/main.
        multilogs = [p for p in processes_under(self.service) if comm(p) == "multilog"]
        self.assertTrue(multilogs, "no multilog is running")
        self.assertEqual(os.stat(f"/proc/{multilogs[0]}").st_uid, int(subprocess.check_output(
            ["id", "-u", conf_user("log")]).decode()))

        failures = []

        def injector(start):
            for i in range(start, MESSAGES, 4):
                p = self.inst.inject([self.user.address], f"Subject: dt {i}\n\nmessage {i}\n")
                if p.returncode != 0:
                    failures.append((i, p.stderr))

        threads = [threading.Thread(target=injector, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

        def all_delivered():
            time.sleep(0.5)
            return mbox_count(self.mbox) >= MESSAGES
        wait_for(all_delivered, 600, f"{MESSAGES} messages in {self.mbox} (have {mbox_count(self.mbox)})\n"
                 + self.log()[-3000:])
        self.assertEqual(mbox_count(self.mbox), MESSAGES)
        self.inst.wait_queue_empty(120)
        # Delivered by the variant given to make setup (home: ~/Mailbox),
        # not into a Maildir.
        self.assertEqual(os.listdir(os.path.join(self.user.maildir, "new")), [])
        # The log holds every delivery, with multilog's timestamps.
        log = self.log()
        self.assertTrue(log.startswith("@"), log[:200])
        # Across multilog's rotated files (about 100 kB each) and current:
        # at least a line a message (the exact wording is send(8)'s).
        wait_for(lambda: self.all_logs().count(self.user.name) >= MESSAGES, 60,
                 "log lines for the deliveries\n" + self.log()[-2000:])

    def test_2_svc_down_and_up(self):
        wait_for(lambda: "status: started" in self.all_logs(), 60, "postern to start\n" + self.all_logs()[-2000:])
        subprocess.run(["svc", "-d", self.service], check=True, timeout=10)
        wait_for(lambda: not self.send_running() and "down" in self.svstat(), 120,
                 "svc -d to stop postern: " + self.svstat())
        before = mbox_count(self.mbox)
        p = self.inst.inject([self.user.address], "Subject: while down\n\nqueued while postern is down\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        time.sleep(2)
        self.assertEqual(self.inst.queue_count(), 1, "a message was delivered while postern was down")
        starts = self.all_logs().count("status: started")
        subprocess.run(["svc", "-u", self.service], check=True, timeout=10)
        wait_for(lambda: self.all_logs().count("status: started") > starts, 60, "svc -u to start postern\n" + self.all_logs()[-2000:])
        wait_for(lambda: mbox_count(self.mbox) > before, 60, "the queued message to be delivered\n" + self.all_logs()[-2000:])
        self.inst.wait_queue_empty(60)


if __name__ == "__main__":
    unittest.main()
