"""lspawn delivers without exec (issue 13): a Maildir and an mbox delivery
make no execve at all under strace -f on lspawn (a |program line does, the
control that shows strace sees them), and the delivery agent that runs
local's code in-process looks as the exec'd local did: the recipient's uid,
fd 0 the message, 1 its socket to lspawn, 2 the log and nothing of send's
pipes, SIGPIPE the only ignored signal, none blocked, umask 077; its
|program sees only 0, 1 and 2; the lookup child is posternp, not root."""
import json
import os
import signal
import subprocess
import unittest

from harness import IS_ROOT, Instance, maildir_files, read_message, remove_test_users, wait_for

SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def fd_links(pid):
    links = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return links


def cmd0(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0]
    except OSError:
        return b""


def find_lspawn(inst):
    """lspawn itself, not one of its workers (whose parent is lspawn)."""
    prog = os.path.join(inst.bin, "lspawn").encode()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and cmd0(pid) == prog:
            try:
                if cmd0(proc_status(pid)["PPid"]) != prog:
                    return int(pid)
            except OSError:
                continue
    raise AssertionError("no lspawn process")


class Strace:
    """strace -f on one process for the execs it and its descendants make."""

    def __init__(self, pid, out):
        self.out = out
        self.proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", out,
                                      "-p", str(pid)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: proc_status(pid)["TracerPid"].strip() != "0", 20, "strace to attach")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        with open(self.out) as f:
            return [line for line in f if "exec" in line]


@unittest.skipUnless(IS_ROOT, "needs root: lspawn, strace -p and real users")
class NoExec(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("nxalice")  # Maildir, the default delivery
        cls.bob = inst.add_user("nxbob")      # mbox
        cls.bob.write("Mailbox", "", 0o600)
        cls.bob.write(".qmail", "./Mailbox\n")
        cls.carol = inst.add_user("nxcarol")  # a program
        inst.start()
        cls.lspawn = find_lspawn(inst)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, user, subject):
        p = self.inst.inject(["-f", self.alice.address, user.address], f"Subject: {subject}\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_maildir_and_mbox_deliveries_exec_nothing(self):
        inst = self.inst
        trace = Strace(self.lspawn, os.path.join(inst.tmp, "strace-mail"))
        try:
            self.send(self.alice, "no exec to a Maildir")
            self.send(self.bob, "no exec to an mbox")
            wait_for(lambda: any(read_message(p)["Subject"] == "no exec to a Maildir"
                                 for p in maildir_files(self.alice.maildir)), 30,
                     "the Maildir delivery\n" + inst.log()[-2000:])
            mbox = os.path.join(self.bob.home, "Mailbox")
            wait_for(lambda: b"Subject: no exec to an mbox" in open(mbox, "rb").read(), 30,
                     "the mbox delivery\n" + inst.log()[-2000:])
            inst.wait_queue_empty()
        finally:
            execs = trace.stop()
        self.assertEqual(execs, [], "lspawn or its children ran a program")

        # The control: a |program line is a real exec, and strace sees it.
        out = os.path.join(self.carol.home, "piped")
        self.carol.write(".qmail", f"|cat > {out}\n")
        trace = Strace(self.lspawn, os.path.join(inst.tmp, "strace-program"))
        try:
            self.send(self.carol, "to a program")
            wait_for(lambda: os.path.exists(out) and b"to a program" in open(out, "rb").read(), 30,
                     "the program's output\n" + inst.log()[-2000:])
            inst.wait_queue_empty()
        finally:
            execs = trace.stop()
        self.assertTrue(any('execve("/bin/sh"' in e for e in execs), execs)
        self.assertFalse(any("/bin/local" in e or "/bin/getpw" in e for e in execs), execs)

    def test_delivery_child_holds_nothing_of_send(self):
        inst = self.inst
        user = inst.add_user("nxfds")
        report = os.path.join(user.home, "fds.json")
        go = os.path.join(user.home, "go")
        user.write("fdlist.py",
                   "import json, os, time\n"
                   "fds = {}\n"
                   "for fd in os.listdir('/proc/self/fd'):\n"
                   "    try:\n"
                   "        fds[fd] = os.readlink('/proc/self/fd/' + fd)\n"
                   "    except OSError:\n"
                   "        pass\n"
                   "with open('fds.tmp', 'w') as f:\n"
                   "    json.dump({'pid': os.getpid(), 'fds': fds}, f)\n"
                   "os.rename('fds.tmp', 'fds.json')\n"
                   "deadline = time.time() + 60\n"
                   "while not os.path.exists('go') and time.time() < deadline:\n"
                   "    time.sleep(0.05)\n")
        user.write(".qmail", "|/usr/bin/python3 fdlist.py\n")
        self.send(user, "which descriptors")
        try:
            wait_for(lambda: os.path.exists(report), 30, "the program's report\n" + inst.log()[-2000:])
            with open(report) as f:
                seen = json.load(f)
            # Up from the program to the delivery child, named local.
            pid = seen["pid"]
            while proc_status(pid)["Name"] != "local":
                pid = int(proc_status(pid)["PPid"])
                self.assertGreater(pid, 1, "no delivery child above the program")
            child = proc_status(pid)
            child_fds = fd_links(pid)
            send_pipes = {fd_links(self.lspawn)[0], fd_links(self.lspawn)[1]}
        finally:
            with open(go, "w"):
                pass
        inst.wait_queue_empty()

        # The program: the message, and its output pipe on 1 and 2.
        fds = {int(k): v for k, v in seen["fds"].items()}
        self.assertEqual(sorted(fds), [0, 1, 2], fds)
        self.assertIn("/queue/mess/", fds[0])
        self.assertEqual(fds[1], fds[2])
        self.assertTrue(fds[1].startswith("pipe:"), fds)

        # The delivery child: as the user, and nothing of send's.
        self.assertEqual(child["Uid"].split()[0], str(user.uid))
        self.assertEqual(child["Gid"].split()[0], str(user.gid))
        self.assertFalse(send_pipes & set(child_fds.values()), (child_fds, send_pipes))
        self.assertIn("/queue/mess/", child_fds[0])
        self.assertTrue(child_fds[1].startswith("socket:"), child_fds)  # the agent's own, to lspawn
        self.assertEqual(child_fds[2], fd_links(self.lspawn)[2], "fd 2 is the log")
        self.assertEqual(sorted(child_fds), [0, 1, 2, 3], child_fds)  # 3: the program's output
        # Signals 1-31 only: glibc keeps 32 and 33 for itself and will not
        # change them, so an ignored disposition there inherited from
        # whatever started the system stays (it did across exec too).
        self.assertEqual(int(child["SigIgn"], 16) & 0x7FFFFFFF, SIGPIPE_BIT,
                         "only SIGPIPE ignored (lspawn ignores SIGCHLD, start SIGHUP)")
        self.assertEqual(int(child["SigBlk"], 16), 0)
        self.assertEqual(child["Umask"].strip(), "0077")
        self.assertEqual(maildir_files(user.maildir), [])
        self.assertNotIn("which descriptors", inst.mailq())

    def test_lookup_runs_as_posternp(self):
        """Root could read an assign.cdb of mode 000; posternp cannot, so
        the delivery is deferred with the lookup's reason until it can."""
        inst = self.inst
        user = inst.add_user("nxlook")
        assign = os.path.join(inst.home, "users", "assign")
        with open(assign, "w") as f:
            f.write(f"=nxlookv:{user.name}:{user.uid}:{user.gid}:{user.home}:::\n.\n")
        p = inst.run("newu", [])
        self.assertEqual(p.returncode, 0, p.stderr)
        os.chmod(assign + ".cdb", 0)
        try:
            p = inst.inject(["-f", self.alice.address, f"nxlookv@{inst.me}"], "Subject: closed assign\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            wait_for(lambda: "unable to open users/assign.cdb" in inst.mailq(), 30,
                     "the deferral\n" + inst.mailq() + inst.log()[-2000:])
            self.assertEqual(maildir_files(user.maildir), [])
        finally:
            os.chmod(assign + ".cdb", 0o644)
        inst.retry()
        inst.wait_maildir(user.maildir, timeout=60)
        inst.wait_queue_empty()
        os.unlink(assign + ".cdb")
        os.unlink(assign)


if __name__ == "__main__":
    unittest.main()
