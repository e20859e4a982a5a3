"""biff/comsat: with control/biff naming a UDP port, local delivery sends
comsat's datagram "user@offset:path" after each Maildir and mbox delivery
(the mbox offset is where the new message starts, as comsat seeks to it);
without control/biff nothing is sent; a dead port or a malformed
control/biff neither delays nor fails a delivery. Last, Debian's own
in.comsat receives the notice on a test port and writes it to the user's
terminal (a pseudo-tty with `biff y`'s u+x bit), run in a mount namespace
whose /run holds a utmp of our own, so the host's logins are not touched."""
import os
import pty
import select
import shutil
import socket
import struct
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, maildir_files, remove_test_users, wait_for


class Listener:
    """A UDP socket on a free loopback port that collects datagrams."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def receive(self, timeout=20):
        r, _, _ = select.select([self.sock], [], [], timeout)
        return self.sock.recv(4096).decode() if r else None

    def nothing(self, wait=1.0):
        r, _, _ = select.select([self.sock], [], [], wait)
        return not r

    def close(self):
        self.sock.close()


def utmp_record(user, line, pid):
    """One glibc x86-64 struct utmp (384 bytes): a USER_PROCESS login."""
    return struct.pack("hi32s4s32s256shhiii4i20s", 7, pid, line.encode(), line[-4:].encode(), user.encode(),
                       b"localhost", 0, 0, 0, int(time.time()), 0, 0, 0, 0, 0, b"")


class BiffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.bob = inst.add_user("bob")
        cls.bob.write(".qmail-box", "./Mailbox\n")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def setUp(self):
        self.listener = Listener()
        self.addCleanup(self.listener.close)

    def tearDown(self):
        biff = os.path.join(self.inst.home, "control", "biff")
        if os.path.exists(biff):
            os.unlink(biff)

    def send(self, to, subject):
        p = self.inst.inject(["-f", "alice@example.org", to], f"From: alice@example.org\nSubject: {subject}\n\nhi\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def deliver_maildir(self, subject):
        before = len(maildir_files(self.bob.maildir))
        self.send(self.bob.address, subject)
        files = self.inst.wait_maildir(self.bob.maildir, before + 1)
        return files[-1]

    def test_maildir_delivery_notifies(self):
        self.inst.control("biff", f"127.0.0.1:{self.listener.port}")
        path = self.deliver_maildir("maildir biff")
        got = self.listener.receive()
        self.assertEqual(got, f"{self.bob.name}@0:{path}")
        self.assertTrue(self.listener.nothing(), "one datagram per delivery")

    def test_mbox_delivery_sends_the_offset(self):
        self.inst.control("biff", f"127.0.0.1:{self.listener.port}")
        mbox = os.path.join(self.bob.home, "Mailbox")
        to = f"{self.bob.name}-box@{self.inst.me}"
        for n in range(2):
            start = os.path.getsize(mbox) if os.path.exists(mbox) else 0
            self.send(to, f"mbox biff {n}")
            got = self.listener.receive()
            self.assertEqual(got, f"{self.bob.name}@{start}:{mbox}")
            with open(mbox, "rb") as f:
                f.seek(start)
                self.assertTrue(f.readline().startswith(b"From alice@example.org "), "the offset is the From_ line")
        self.inst.wait_queue_empty()

    def test_ipv6_target(self):
        try:
            six = Listener(socket.AF_INET6, "::1")
        except OSError:
            self.skipTest("no ::1 on this host")
        self.addCleanup(six.close)
        self.inst.control("biff", f"[::1]:{six.port}")
        path = self.deliver_maildir("v6 biff")
        self.assertEqual(six.receive(), f"{self.bob.name}@0:{path}")

    def test_absent_control_file_sends_nothing(self):
        # The listener's port in a file of another name must not matter.
        self.inst.control("biffx", f"127.0.0.1:{self.listener.port}")
        self.addCleanup(os.unlink, os.path.join(self.inst.home, "control", "biffx"))
        self.deliver_maildir("no biff")
        self.inst.wait_queue_empty()
        self.assertTrue(self.listener.nothing(2.0))
        self.assertNotIn("biff:", self.inst.log())

    def test_dead_port_or_bad_file_never_fails_delivery(self):
        dead = self.listener.port
        self.listener.close()  # nothing listens there any more
        self.inst.control("biff", f"127.0.0.1:{dead}")
        for n in range(3):
            self.deliver_maildir(f"dead port {n}")
        self.inst.wait_queue_empty()
        self.inst.control("biff", "comsat.example.org:512")
        self.deliver_maildir("bad biff file")
        self.inst.wait_queue_empty()
        log = self.inst.log()
        self.assertIn("local: biff: control/biff: \"comsat.example.org:512\" is not localhost or an IP address", log)
        self.assertNotIn("deferred", log)
        self.assertNotIn("status=bounced", log)

    @unittest.skipUnless(IS_ROOT and shutil.which("unshare") and os.path.exists("/usr/sbin/in.comsat"),
                         "needs root, unshare(1) and Debian's biff package (in.comsat)")
    def test_debian_comsat_writes_to_the_terminal(self):
        self.assertTrue(self.inst.multi)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        tty = os.ttyname(slave)
        os.chown(tty, self.bob.uid, -1)
        os.chmod(tty, 0o720 | 0o100)  # biff y: the owner-execute bit
        utmp = os.path.join(self.inst.tmp, "utmp")
        with open(utmp, "wb") as f:
            f.write(utmp_record(self.bob.name, tty[len("/dev/"):], os.getpid()))
        # inetd's "dgram wait" contract: the bound UDP socket on fd 0.
        comsat = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs tmpfs /run && cp "$1" /run/utmp && exec /usr/sbin/in.comsat', "sh", utmp],
            stdin=self.listener.sock.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)

        def stop():
            comsat.kill()
            comsat.wait(timeout=10)
            comsat.stderr.close()
        self.addCleanup(stop)
        time.sleep(1)  # comsat reads utmp when it starts
        self.inst.control("biff", f"localhost:{self.listener.port}")
        mbox = os.path.join(self.bob.home, "Mailbox")
        self.send(f"{self.bob.name}-box@{self.inst.me}", "a notice for the terminal")
        seen = b""
        end = time.time() + 30
        while time.time() < end and b"a notice for the terminal" not in seen:
            r, _, _ = select.select([master], [], [], 1)
            if r:
                seen += os.read(master, 4096)
        text = seen.decode(errors="replace")
        self.assertIn("New mail for", text, f"comsat wrote: {text!r}")
        self.assertIn(f"{self.bob.name}@", text)
        self.assertIn("Subject: a notice for the terminal", text)
        self.assertTrue(os.path.exists(mbox))


if __name__ == "__main__":
    unittest.main()
