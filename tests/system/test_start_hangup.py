"""A terminal hang-up after `conf-home/rc &`: SIGHUP reaches every process
of rc's process group (start's helpers and the logger too). Nothing may
die of it; send alone acts on it (it rereads its control files), and mail
still flows afterwards."""
import os
import signal
import subprocess
import time
import unittest

from harness import Instance, make_env, remove_test_users, wait_for


def group_members(pgid):
    """{pid: program name} of the processes in process group pgid."""
    members = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members[int(name)] = comm
    return members


class HangUp(unittest.TestCase):
    def setUp(self):
        self.inst = Instance()
        self.user = self.inst.add_user("hup")
        # rc as installed, the way `rc &` runs it from a shell with job
        # control: a process group of its own (its pid), the log on its
        # output (a multi-user rc has splogger, which is in the group too).
        log = open(self.inst.logfile, "ab")
        self.rc = subprocess.Popen([os.path.join(self.inst.home, "rc")], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, process_group=0, env=make_env(), cwd="/")
        log.close()
        self.inst.proc = self.rc  # stopped as the instance's own start is

    def tearDown(self):
        self.inst.cleanup()
        remove_test_users()

    def test_hangup_stops_nothing(self):
        expected = {"send", "lspawn", "clean", "rspawn"}
        if self.inst.multi:
            expected.add("splogger")
        wait_for(lambda: expected <= set(group_members(self.rc.pid).values()), 30,
                 f"rc's processes {sorted(expected)}: have {group_members(self.rc.pid)}\n" + self.inst.log()[-2000:])
        # One message first, so that every helper has done some work.
        p = self.inst.inject([self.user.address], "Subject: before\n\nbefore the hang-up\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.inst.wait_maildir(self.user.maildir, 1, 60)
        before = group_members(self.rc.pid)

        os.killpg(self.rc.pid, signal.SIGHUP)
        time.sleep(3)
        after = group_members(self.rc.pid)
        self.assertIsNone(self.rc.poll(), "send died of SIGHUP")
        self.assertEqual(after, before, "processes of rc's group died of SIGHUP\n" + self.inst.log()[-2000:])

        p = self.inst.inject([self.user.address], "Subject: after\n\nafter the hang-up\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.inst.wait_maildir(self.user.maildir, 2, 60)
        self.inst.wait_queue_empty(60)
        self.assertEqual(group_members(self.rc.pid), before)


if __name__ == "__main__":
    unittest.main()
