"""Resource limits of the per-user processes (control/cpulocal,
memorylocal, memoryimapd, ...): a .qmail program that spins or eats
memory is stopped and the delivery defers (mailq says why, nothing is
lost, and the retry delivers once the program is fixed); an IMAP session
that takes too much memory is stopped with * BYE, and the limits are
those of the control files. Meanwhile other mail
is delivered: the host is fine."""
import os
import socket
import subprocess
import time
import unittest

from harness import ServerTestCase, IS_ROOT, Instance, TcpServer, maildir_files, read_message, remove_test_users, wait_for


class Local(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.bob = inst.add_user("bob")
            cls.carol = inst.add_user("carol")
            inst.control("cpulocal", "1")
            inst.control("memorylocal", str(64 * 1024 * 1024))
            inst.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def defers_then_delivers(self, ext, program, why):
        inst, bob = self.inst, self.bob
        bob.write(f".qmail-{ext}", f"{program}\n./Maildir/\n")
        before = len(maildir_files(bob.maildir))
        rcpt = f"{bob.name}-{ext}@{inst.me}"
        self.assertEqual(inst.sendmail([rcpt], f"Subject: {ext}\n\nx\n").returncode, 0)
        wait_for(lambda: why in inst.mailq(), 60, f"mailq to show '{why}'\n" + inst.mailq() + inst.log()[-3000:])
        self.assertEqual(len(maildir_files(bob.maildir)), before)
        # The host is fine: other mail goes through meanwhile.
        carol_before = len(maildir_files(self.carol.maildir))
        self.assertEqual(inst.sendmail([self.carol.address], "Subject: meanwhile\n\nx\n").returncode, 0)
        inst.wait_maildir(self.carol.maildir, carol_before + 1, 60)
        # Nothing is lost: fixed, the retry delivers it.
        bob.write(f".qmail-{ext}", "./Maildir/\n")
        self.assertEqual(inst.retry().returncode, 0)
        files = inst.wait_maildir(bob.maildir, before + 1, 60)
        self.assertEqual(read_message(files[-1])["Subject"], ext)
        inst.wait_queue_empty(60)

    def test_cpu_limit_defers(self):
        # sh spins by itself: SIGXCPU (24) after a second of CPU time.
        self.defers_then_delivers("spin", "|while :; do :; done", "killed by signal 24")

    @unittest.skipIf(os.environ.get("POSTERN_SAN"), "a sanitizer build sets no memory limit")
    def test_memory_limit_defers(self):
        self.defers_then_delivers("greedy", "|python3 -c 'x = bytearray(512 * 1024 * 1024)'", "MemoryError")


@unittest.skipUnless(IS_ROOT, "needs root: a system user with a password, imapd as root")
class Imapd(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.user = inst.add_user("ul")
            subprocess.run(["chpasswd"], input=f"{cls.user.name}:ul-pw\n".encode(), check=True)
            inst.control("memoryimapd", str(48 * 1024 * 1024))
            inst.control("cpuimapd", "77")
            cls.server = TcpServer(inst, "imapd")
        except Exception:
            cls.tearDownClass()
            raise

    def login(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(f"a LOGIN {self.user.name} ul-pw\r\n".encode())
        line = f.readline()
        self.assertTrue(line.startswith(b"a OK"), line)
        return s, f

    def test_limits_are_set_on_the_session(self):
        s, f = self.login()
        try:
            pids = wait_for(lambda: subprocess.run(["pgrep", "-u", self.user.name, "-f", "imapd-mailbox"],
                                                   capture_output=True, text=True).stdout.split(), 10,
                            "the mailbox stage")
            with open(f"/proc/{pids[0]}/limits") as lim:
                limits = {l[:26].strip(): l[26:].split() for l in lim.read().splitlines()[1:]}
            if not os.environ.get("POSTERN_SAN"):  # a sanitizer build sets no memory limit
                self.assertEqual(limits["Max data size"][0], str(48 * 1024 * 1024))
            self.assertEqual(limits["Max cpu time"][0], "77")
            self.assertEqual(limits["Max core file size"][0], "0")
        finally:
            s.close()

    @unittest.skipIf(os.environ.get("POSTERN_SAN"), "a sanitizer build sets no memory limit")
    def test_memory_limit_stops_the_session(self):
        # A message bigger than memoryimapd: BODYSTRUCTURE parses it whole,
        # which the limit does not allow.
        body = ("x" * 998 + "\n") * (60 * 1024)
        name = f"{int(time.time())}.big.test"
        path = self.user.write(f"Maildir/cur/{name}:2,", f"Subject: big\n\n{body}", mode=0o600)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        s, f = self.login()
        s.sendall(b"b SELECT INBOX\r\n")
        while not f.readline().startswith(b"b "):
            pass
        s.sendall(b"c FETCH 1 BODYSTRUCTURE\r\n")
        lines = []
        try:
            while True:
                line = f.readline()
                if not line:
                    break
                lines.append(line)
        except OSError:
            pass
        self.assertIn(b"* BYE [UNAVAILABLE] the session was stopped by the server\r\n", lines)
        s.close()
        wait_for(lambda: "(over control/memoryimapd?)" in self.server.log(), 10,
                 "the log line\n" + self.server.log()[-2000:])
        # The host is fine: the next session works.
        os.unlink(path)
        s, f = self.login()
        s.sendall(b"d STATUS INBOX (MESSAGES)\r\n")
        self.assertIn(b"(MESSAGES 0)", f.readline())
        s.close()


if __name__ == "__main__":
    unittest.main()
