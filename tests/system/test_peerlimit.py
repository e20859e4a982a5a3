"""peerlimit: a thousand idle connections from one address (127.0.0.2)
must not keep a client from another address (127.0.0.1) out. smtpd and
imapd run under a real tcpserver started by the boot run files that make
setup installs (conf-home/boot/*-tcpserver.run), only moved to a free
loopback port; the clients are raw sockets."""
import os
import resource
import selectors
import signal
import socket
import subprocess
import time
import unittest

from harness import IS_ROOT, Instance, free_port, make_env, remove_test_users, wait_for

ATTACKERS = 1000
# The point is one second; this machine is shared and loaded, so the test
# allows three and prints what it measured.
SERVED_WITHIN = 3.0


class RunFile:
    """conf-home/boot/NAME-tcpserver.run, as daemontools would run it, on
    127.0.0.1 and a free port (the run file's IP and PORT)."""

    def __init__(self, inst, name):
        self.inst, self.port = inst, free_port()
        self.logfile = os.path.join(inst.tmp, f"{name}-run.log")
        env = make_env()
        env.update(IP="127.0.0.1", PORT=str(self.port))
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(["sh", os.path.join(inst.home, "boot", f"{name}-tcpserver.run")],
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True, cwd="/")

        def listening():
            with open("/proc/net/tcp") as f:
                return any(l.split()[1].endswith(f":{self.port:04X}") and l.split()[3] == "0A"
                           for l in f.readlines()[1:])
        wait_for(listening, 20, f"{name}-tcpserver.run to listen:\n{self.log()}")

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)


def flood(port, count, batch=20, wait=30):
    """count connections to port from 127.0.0.2, each left idle once its
    first line came; returns (sockets, {first line: count}). They go in
    batches no larger than tcpserver's accept queue (-b, 20), each once
    the last has its answers: a burst larger than the queue would mostly
    never reach the server (SYN cookies: the client thinks it connected),
    and the point is a thousand connections the server has seen."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    socks, firsts = [], {}
    while len(socks) < count:
        sel = selectors.DefaultSelector()
        pending = {}
        for _ in range(min(batch, count - len(socks))):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
            pending[s] = b""
            sel.register(s, selectors.EVENT_READ)
        end = time.time() + wait
        while pending and time.time() < end:
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                pending[s] += data
                if b"\n" in pending[s] or not data:
                    line = pending.pop(s).split(b"\r\n")[0].decode(errors="replace")
                    kind = line[:12] if line else "(closed)"
                    firsts[kind] = firsts.get(kind, 0) + 1
                    sel.unregister(s)
        sel.close()
        if pending:
            firsts["(no answer)"] = firsts.get("(no answer)", 0) + len(pending)
    return socks, firsts


def served(port, greeting, command, answer):
    """Seconds until a client from 127.0.0.1 has its greeting and the
    answer to one command."""
    started = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=("127.0.0.1", 0))
    f = s.makefile("rb")
    line = f.readline()
    assert line.startswith(greeting), line
    s.sendall(command)
    line = f.readline()
    assert line.startswith(answer), line
    elapsed = time.monotonic() - started
    f.close()
    s.close()
    return elapsed


@unittest.skipUnless(IS_ROOT, "needs root: the boot files run tcpserver as root (imapd) and as posternd (smtpd)")
class Flood(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def check(self, name, limit, greeting, refusal, command, answer):
        server = RunFile(self.inst, name)
        socks = []
        try:
            socks, firsts = flood(server.port, ATTACKERS)
            held = sum(n for k, n in firsts.items() if k.startswith(greeting.decode()))
            refused = sum(n for k, n in firsts.items() if k.startswith(refusal.decode()[:12]))
            # Exactly limit sessions; every other connection the server
            # took was refused at once.
            self.assertEqual(held, limit, firsts)
            self.assertEqual(refused, ATTACKERS - limit, firsts)
            times = [served(server.port, greeting, command, answer) for _ in range(3)]
            print(f"\n{name}: {ATTACKERS} connections from 127.0.0.2 ({held} held, {refused} refused); "
                  f"a client from 127.0.0.1 served in {', '.join(f'{t:.3f}' for t in times)} s", flush=True)
            self.assertLess(max(times), SERVED_WITHIN)
            wait_for(lambda: "refused 127.0.0.2" in server.log(), 10, "peerlimit's log line")
            # The slots come back when the sessions end: nothing to clean up.
            for s in socks:
                s.close()
            socks = []
            lockdir = os.path.join(self.inst.home, "peerlimit", name[:4])
            wait_for(lambda: not os.listdir(lockdir), 30, f"{lockdir} to empty")
            self.assertLess(served(server.port, greeting, command, answer), SERVED_WITHIN)
        finally:
            for s in socks:
                s.close()
            server.stop()

    def test_smtpd(self):
        self.check("smtpd", 10, b"220 ", b"421 4.7.0 too many", b"NOOP\r\n", b"250 ")

    def test_imapd(self):
        self.check("imapd", 20, b"* OK", b"* BYE [UNAVAILABLE] too many", b"a1 CAPABILITY\r\n", b"* CAPABILITY")


class Slots(unittest.TestCase):
    """peerlimit on its own, with the address in TCPREMOTEIP as tcpserver
    sets it: IPv6 counted by /64, a crashed holder's slot free at once."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def start(self, ip, limit="2"):
        env = make_env()
        env["TCPREMOTEIP"] = ip
        p = subprocess.Popen([os.path.join(self.inst.bin, "peerlimit"), "-n", limit, "imap", "sh", "-c",
                              "echo '* OK in'; exec sleep 60"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.addCleanup(lambda: (p.poll() is None and os.killpg(p.pid, signal.SIGKILL), p.wait()))
        return p, p.stdout.readline().decode()

    def test_ipv6_by_64_and_crash(self):
        first, line = self.start("2001:db8:1:2::1")
        self.assertEqual(line, "* OK in\n")
        second, line = self.start("2001:db8:1:2:ffff::2")
        self.assertEqual(line, "* OK in\n")
        third, line = self.start("2001:db8:1:2::3")
        self.assertEqual(line, "* BYE [UNAVAILABLE] too many connections from your address; try again later\r\n")
        self.assertEqual(third.wait(timeout=30), 0)
        self.assertIn(b"refused 2001:db8:1:2::3", third.stderr.read())
        other, line = self.start("2001:db8:1:3::1")  # another /64
        self.assertEqual(line, "* OK in\n")
        # kill -9 of a holder (peerlimit and its session): its slot is free.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        again, line = self.start("2001:db8:1:2::4")
        self.assertEqual(line, "* OK in\n")
        # A session that ends removes its lock file.
        os.kill(again.pid, 0)
        lockdir = os.path.join(self.inst.home, "peerlimit", "imap")
        before = len(os.listdir(lockdir))
        with open(f"/proc/{again.pid}/task/{again.pid}/children") as f:
            session = int(f.read().split()[0])
        os.kill(session, signal.SIGKILL)
        self.assertEqual(again.wait(timeout=30), 111)  # the session died of a signal
        wait_for(lambda: len(os.listdir(lockdir)) == before - 1, 10, "the lock file to go")


@unittest.skipUnless(os.path.exists("/usr/bin/systemd-analyze"), "systemd-analyze is not installed")
class SystemdUnits(unittest.TestCase):
    def test_units_verify(self):
        """The socket units and their services as make setup installs them
        are valid for systemd (unknown keys, bad values)."""
        inst = Instance()
        try:
            boot = os.path.join(inst.home, "boot")
            units = [os.path.join(boot, f"{n}.socket") for n in ("smtpd", "pop3d", "imapd")]
            out = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, capture_output=True,
                                 text=True, timeout=120, cwd=boot)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr.strip(), "", out.stderr)
            for n, per in (("smtpd", 10), ("pop3d", 10), ("imapd", 20)):
                with open(os.path.join(boot, f"{n}.socket")) as f:
                    self.assertIn(f"MaxConnectionsPerSource={per}", f.read())
        finally:
            inst.cleanup()


if __name__ == "__main__":
    unittest.main()
