"""lspawn's long-lived children (issue 13): deliveries to one user are
made by one delivery agent, with no fork per delivery; an agent killed in
the middle of a delivery defers it and the retry delivers it once; an
agent of one user never holds another user's message and a stuck program
of one user does not hold another's delivery; an idle agent exits; the
lookup process sees a new users/assign entry and a new system user at
the next delivery."""
import os
import pwd
import re
import signal
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, maildir_files, remove_test_users, wait_for
from test_lspawn_noexec import Strace, fd_links, find_lspawn, proc_status


def alive(pid):
    try:
        return proc_status(pid)["State"][0] != "Z"
    except OSError:
        return False


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def agent_above(pid):
    """The delivery agent (named local) a program runs under."""
    while proc_status(pid)["Name"] != "local":
        pid = int(proc_status(pid)["PPid"])
        assert pid > 1, "no agent above the program"
    return pid


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


@unittest.skipUnless(IS_ROOT, "needs root: lspawn's agents become real users")
class Agents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        try:
            cls.inst.start()
            cls.lspawn = find_lspawn(cls.inst)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, address, subject):
        p = self.inst.inject(["-f", f"sender@{self.inst.me}", address], f"Subject: {subject}\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_one_agent_for_twenty_deliveries(self):
        inst = self.inst
        piped = inst.add_user("agpid")
        piped.write(".qmail", "|echo $PPID >> agents\n./Maildir/\n")
        # One at a time: send delivers to one user concurrently, and
        # each of those deliveries has an agent of its own.
        for i in range(20):
            self.send(piped.address, f"pid {i}")
            inst.wait_maildir(piped.maildir, i + 1, 60)
        with open(os.path.join(piped.home, "agents")) as f:
            pids = set(f.read().split())
        self.assertEqual(len(pids), 1, "one agent made the 20 deliveries")


    def test_no_fork_per_delivery(self):
        inst = self.inst
        user = inst.add_user("agfork")
        self.send(user.address, "warm up")
        inst.wait_maildir(user.maildir, 1, 60)
        out = os.path.join(inst.tmp, "strace-clone")
        proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3", "-o", out,
                                 "-p", str(self.lspawn)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: proc_status(self.lspawn)["TracerPid"].strip() != "0", 20, "strace to attach")
            for i in range(20):
                self.send(user.address, f"no fork {i}")
                inst.wait_maildir(user.maildir, i + 2, 60)
            inst.wait_queue_empty(60)
        finally:
            proc.terminate()
            proc.wait(20)
        with open(out) as f:
            forks = [line for line in f if re.search(r"\b(fork|vfork|clone|clone3)\(", line)]
        # The agent of this user was idle and kept: 20 deliveries, no fork
        # (one at most, should the agent have idled out between two).
        self.assertLessEqual(len(forks), 1, forks)

    def stuck_agent(self, user, subject):
        """Sends user a message whose .qmail runs a program that sleeps
        until the file go exists; returns the pid of the agent running it."""
        user.write("prog.sh", "[ -e go ] && exit 0\necho $$ > agent\nexec sleep 120\n", 0o755)
        user.write(".qmail", "|./prog.sh\n./Maildir/\n")
        self.send(user.address, subject)
        agent_file = os.path.join(user.home, "agent")
        wait_for(lambda: os.path.exists(agent_file) and os.path.getsize(agent_file) > 0, 60,
                 "the program to start\n" + self.inst.log()[-2000:])
        return agent_above(read_int(agent_file))

    def test_killed_agent_defers_and_retry_delivers_once(self):
        inst = self.inst
        user = inst.add_user("agkill")
        agent = self.stuck_agent(user, "killed in the middle")
        self.assertEqual(proc_status(agent)["Name"], "local")
        sleepers = children(agent)
        os.kill(agent, signal.SIGKILL)
        kill_all(sleepers)
        wait_for(lambda: "killed by signal 9" in inst.mailq(), 60,
                 "the deferral\n" + inst.mailq() + inst.log()[-2000:])
        self.assertEqual(maildir_files(user.maildir), [])
        user.write("go", "")
        self.assertEqual(inst.retry().returncode, 0)
        inst.wait_maildir(user.maildir, 1, 60)
        inst.wait_queue_empty(60)
        time.sleep(1)
        self.assertEqual(len(maildir_files(user.maildir)), 1, "delivered once")

    def test_stuck_user_holds_neither_others_mail_nor_their_delivery(self):
        inst = self.inst
        stuck = inst.add_user("agstuck")
        other = inst.add_user("agother")
        agent = self.stuck_agent(stuck, "stuck")
        before = fd_links(agent)
        try:
            self.assertEqual(sorted(before), [0, 1, 2, 3], before)
            self.assertIn("/queue/mess/", before[0])
            other.write(".qmail", "|sleep 1\n./Maildir/\n")
            self.send(other.address, "not held up")
            # While the other user's delivery runs, the stuck agent holds
            # what it held: its own message only.
            deadline = time.time() + 60
            while not maildir_files(other.maildir) and time.time() < deadline:
                self.assertEqual(fd_links(agent), before)
                time.sleep(0.05)
            self.assertEqual(len(maildir_files(other.maildir)), 1, "delivered while the other user is stuck")
            self.assertTrue(alive(agent), "the stuck delivery still runs")
            self.assertEqual(maildir_files(stuck.maildir), [])
        finally:
            stuck.write("go", "")
            kill_all(children(agent))
        # Its program was killed: deferred, then delivered by the retry.
        wait_for(lambda: "killed by signal 9" in inst.mailq(), 60, inst.mailq() + inst.log()[-2000:])
        self.assertEqual(inst.retry().returncode, 0)
        inst.wait_maildir(stuck.maildir, 1, 60)
        inst.wait_queue_empty(60)

    def test_idle_agent_exits(self):
        inst = self.inst
        user = inst.add_user("agidle")
        user.write(".qmail", "|echo $PPID > agent\n./Maildir/\n")
        self.send(user.address, "then idle")
        inst.wait_maildir(user.maildir, 1, 60)
        agent = read_int(os.path.join(user.home, "agent"))
        time.sleep(2)
        self.assertTrue(alive(agent), "the agent waits for the next delivery")
        self.assertEqual(proc_status(agent)["Uid"].split()[0], str(user.uid))
        wait_for(lambda: not alive(agent), 60, "the idle agent to exit")

    def test_lookup_sees_new_assign_entry_and_new_user(self):
        inst = self.inst
        first = inst.add_user("agfirst")
        self.send(first.address, "the lookup process is running")
        inst.wait_maildir(first.maildir, 1, 60)
        assign = os.path.join(inst.home, "users", "assign")
        with open(assign, "a") as f:
            f.write(f"=agvirtual:{first.name}:{first.uid}:{first.gid}:{first.home}:::\n")
        inst._newu()
        self.send(f"agvirtual@{inst.me}", "to a new assign entry")
        inst.wait_maildir(first.maildir, 2, 60)
        late = inst.add_user("aglate")  # a new line in /etc/passwd
        self.send(late.address, "to a new system user")
        inst.wait_maildir(late.maildir, 1, 60)
        inst.wait_queue_empty(60)

    def test_killed_lookup_process_is_replaced(self):
        inst = self.inst
        user = inst.add_user("aglookup")
        self.send(user.address, "before")
        inst.wait_maildir(user.maildir, 1, 60)
        lookups = [c for c in children(self.lspawn) if proc_status(c)["Name"] == "getpw"]
        self.assertEqual(len(lookups), 1, "one lookup process, kept")
        self.assertEqual(proc_status(lookups[0])["Uid"].split()[0], str(pwd.getpwnam("posternp").pw_uid))
        os.kill(lookups[0], signal.SIGKILL)
        wait_for(lambda: not alive(lookups[0]), 20, "the lookup process to go")
        self.send(user.address, "after")
        inst.wait_maildir(user.maildir, 2, 60)
        inst.wait_queue_empty(60)


if __name__ == "__main__":
    unittest.main()
