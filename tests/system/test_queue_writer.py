"""queued, the queue writer (queued(8)): smtpd and inject hand their
messages to it over queue/lock/queued, and the Received: line names the
real caller's uid (from the socket, not from the client); a stopped writer
makes clients fall back to bin/queue with nothing lost; a client that goes
away mid-message leaves nothing in the queue; oversized and malformed
envelopes get queue's exit codes; beyond control/queuedclients clients are
refused and fall back; a silent client is dropped after control/queuedtimeout."""
import os
import subprocess
import re
import signal
import smtplib
import socket
import struct
import time
import unittest

from harness import Instance, maildir_files, remove_test_users, wait_for
from smtp_helpers import SmtpServer, daemon_ids

RECEIVED = re.compile(rb"^Received: \(postern (\d+) invoked by uid (\d+)\); ", re.M)


def frame(kind, payload=b""):
    return kind + struct.pack(">I", len(payload)) + payload


class Raw:
    """A client of queued speaking its frames (mail/queue_wire.hpp) by hand."""

    def __init__(self, inst, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(os.path.join(inst.home, "queue", "lock", "queued"))
        self.buf = b""

    def frame(self):
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack(">I", self.buf[1:5])[0]
                if len(self.buf) >= 5 + n:
                    kind, payload = self.buf[:1], self.buf[5:5 + n]
                    self.buf = self.buf[5 + n:]
                    return kind, payload
            got = self.sock.recv(65536)
            if not got:
                return None, b""
            self.buf += got

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def queue_files(inst):
    q = os.path.join(inst.home, "queue")
    return {sub: sorted(os.listdir(os.path.join(q, sub))) for sub in ("pid", "mess", "todo")}


def writer_pids(inst):
    """The pids of this instance's queued."""
    pids = []
    exe = os.path.join(inst.bin, "queued")
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/exe") == exe:
                    pids.append(int(p))
            except OSError:
                pass
    return pids


class QueueWriter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.alice = cls.inst.add_user("alice")
        cls.inst.start()
        cls.server = SmtpServer(cls.inst)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

    def restart(self, **controls):
        inst = self.inst
        listening = inst.log().count("queued: status: listening")
        inst.stop()
        for name in ("queuedclients", "queuedtimeout"):
            path = os.path.join(inst.home, "control", name)
            if name in controls:
                inst.control(name, str(controls[name]))
            elif os.path.exists(path):
                os.remove(path)
        inst.start()
        wait_for(lambda: writer_pids(inst), 20, "queued to start\n" + inst.log()[-2000:])
        # The socket's name outlives the queued just stopped: wait for the
        # new one to say it listens.
        wait_for(lambda: inst.log().count("queued: status: listening") > listening, 20, "queued's socket")

    def setUp(self):
        self.restart()

    def deliver(self, subject, via_smtp, user=None):
        inst, alice = self.inst, self.alice
        before = len(maildir_files(alice.maildir))
        text = f"From: <{alice.address}>\nTo: <{alice.address}>\nSubject: {subject}\n\nbody of {subject}\n"
        if via_smtp:
            with smtplib.SMTP("127.0.0.1", self.server.port, timeout=60) as s:
                s.sendmail("sender@example.org", [alice.address], text.replace("\n", "\r\n").encode())
        else:
            r = inst.inject([alice.address], text, user=user)
            self.assertEqual(r.returncode, 0, r.stderr)
        inst.wait_maildir(alice.maildir, before + 1)
        for path in maildir_files(alice.maildir):
            with open(path, "rb") as f:
                data = f.read()
            if f"Subject: {subject}".encode() in data:
                return data
        self.fail(f"{subject} not delivered")

    def test_smtpd_and_inject_go_through_the_writer_as_the_real_caller(self):
        inst = self.inst
        queue = os.path.join(inst.bin, "queue")
        mode = os.stat(queue).st_mode
        # With bin/queue unusable, only queued can have queued these.
        os.chmod(queue, 0)
        try:
            by_inject = self.deliver("through-writer-inject", via_smtp=False, user=self.alice)
            by_smtpd = self.deliver("through-writer-smtpd", via_smtp=True)
        finally:
            os.chmod(queue, mode)
        m = RECEIVED.search(by_inject)
        self.assertIsNotNone(m, by_inject[:400])
        expected = self.alice.uid if inst.multi else os.getuid()
        self.assertEqual(int(m.group(2)), expected, "inject's Received: line names the caller's uid")
        m = RECEIVED.search(by_smtpd)
        self.assertIsNotNone(m, by_smtpd[:400])
        self.assertEqual(int(m.group(2)), daemon_ids(inst)[0], "smtpd's message names smtpd's uid")
        self.assertEqual(queue_files(inst)["pid"], [])

    def test_a_stopped_writer_makes_clients_fall_back_to_queue(self):
        inst = self.inst
        for pid in writer_pids(inst):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not writer_pids(inst), 20, "queued to die")
        self.deliver("fallback-inject", via_smtp=False, user=self.alice)
        data = self.deliver("fallback-smtpd", via_smtp=True)
        self.assertIsNotNone(RECEIVED.search(data))
        inst.wait_queue_empty()

    def test_a_client_that_goes_away_mid_message_leaves_nothing(self):
        inst = self.inst
        raw = Raw(inst)
        self.assertEqual(raw.frame()[0], b"R")
        raw.send(frame(b"M", b"Subject: half\n\n" + b"x" * 60000))
        wait_for(lambda: queue_files(inst)["mess"], 20, "the message file to appear")
        raw.close()
        wait_for(lambda: "went away before the end" in inst.log(), 20, "queued's log line\n" + inst.log()[-2000:])
        wait_for(lambda: queue_files(inst) == {"pid": [], "mess": [], "todo": []}, 20,
                 f"an empty queue: {queue_files(inst)}")

    def envelope_code(self, envelope):
        """queued's exit code for a message with this envelope; and the
        same envelope given to bin/queue, which must agree."""
        raw = Raw(self.inst, timeout=120)
        self.assertEqual(raw.frame()[0], b"R")
        raw.send(frame(b"M", b"Subject: env\n\nbody\n"))
        for at in range(0, len(envelope), 65536):
            raw.send(frame(b"E", envelope[at:at + 65536]))
        raw.send(frame(b"F"))
        kind, payload = raw.frame()
        raw.close()
        return kind, payload

    def test_bad_envelopes_get_queues_exit_codes(self):
        inst = self.inst
        long_address = b"T" + b"a" * 1000 + b"@example.org\0"
        cases = [
            (b"Fa@example.org\0" + long_address + b"\0", 11),
            (b"Xnot an envelope\0\0", 91),
            (b"Fa@example.org\0", 91),
            (b"Fa@example.org\0" + b"Tb@example.org\0" * (64 * 1024 * 1024 // 15 + 1) + b"\0", 54),
        ]
        for envelope, code in cases:
            kind, payload = self.envelope_code(envelope)
            self.assertEqual(kind, b"X", payload)
            self.assertEqual(int(payload.split(b" ")[0]), code, payload)
        self.assertEqual(queue_files(inst), {"pid": [], "mess": [], "todo": []})
        # bin/queue says the same of the first three.
        for envelope, code in cases[:3]:
            r, w = os.pipe()
            os.write(w, envelope)
            os.close(w)
            p = subprocess.run([os.path.join(inst.bin, "queue")], input=b"Subject: env\n\nbody\n", stdout=r,
                               capture_output=False, stderr=subprocess.DEVNULL, timeout=60)
            os.close(r)
            self.assertEqual(p.returncode, code, envelope[:40])

    def test_protocol_errors_are_refused_and_logged(self):
        inst = self.inst
        raw = Raw(inst)
        self.assertEqual(raw.frame()[0], b"R")
        raw.send(b"Z\0\0\0\0")
        kind, payload = raw.frame()
        raw.close()
        self.assertEqual((kind, payload[:3]), (b"X", b"54 "))
        raw = Raw(inst)
        self.assertEqual(raw.frame()[0], b"R")
        raw.send(b"M\0\x02\0\0")  # a chunk over 64 KB
        kind, payload = raw.frame()
        raw.close()
        self.assertEqual((kind, payload[:3]), (b"X", b"54 "))
        self.assertIn("broke the protocol", inst.log())
        wait_for(lambda: queue_files(inst) == {"pid": [], "mess": [], "todo": []}, 20, "an empty queue")

    def test_too_many_clients_are_refused_and_fall_back(self):
        inst = self.inst
        self.restart(queuedclients=2)
        held = [Raw(inst), Raw(inst)]
        try:
            for raw in held:
                self.assertEqual(raw.frame()[0], b"R")
            third = Raw(inst)
            kind, _ = third.frame()
            third.close()
            self.assertEqual(kind, b"B", "a client beyond control/queuedclients is refused")
            # inject and smtpd go to bin/queue meanwhile, and nothing is lost.
            self.deliver("full-inject", via_smtp=False, user=self.alice)
            self.deliver("full-smtpd", via_smtp=True)
            self.assertIn("control/queuedclients", inst.log())
        finally:
            for raw in held:
                raw.close()

    def test_a_silent_client_is_dropped(self):
        inst = self.inst
        self.restart(queuedtimeout=2)
        raw = Raw(inst)
        self.assertEqual(raw.frame()[0], b"R")
        raw.send(frame(b"M", b"Subject: slow\n\n"))
        kind, payload = raw.frame()
        raw.close()
        self.assertEqual((kind, payload[:3]), (b"X", b"52 "))
        self.assertIn("silent too long", inst.log())
        wait_for(lambda: queue_files(inst) == {"pid": [], "mess": [], "todo": []}, 20, "an empty queue")

    def test_threads_are_reused_and_a_silent_client_holds_up_no_other(self):
        inst = self.inst
        silent = Raw(inst)
        try:
            self.assertEqual(silent.frame()[0], b"R")
            for i in range(12):
                self.deliver(f"reuse-{i}", via_smtp=(i % 2 == 0))
            # One thread listens and one serves the silent client; the
            # twelve messages, one after another, were served by one or
            # two more, which wait for the next client rather than exit
            # (a thread per client would leave none). A message's syncs
            # ran side by side on at most two helpers, which wait too.
            pid = writer_pids(inst)[0]
            names = []
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/comm") as f:
                    names.append(f.read().strip())
            waiting = names.count("queued client") - 1
            self.assertIn(waiting, (1, 2), f"queued has {waiting} client threads beside the silent client's: {names}")
            self.assertIn(names.count("queued sync"), (1, 2), names)
            self.assertEqual(len(names), names.count("queued client") + names.count("queued sync") + 1, names)
        finally:
            silent.close()

if __name__ == "__main__":
    unittest.main()
