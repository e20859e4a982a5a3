"""Power cuts with group commit: as test_powercut, but several SMTP clients
send at once, so that queued (queued(8)) commits several messages with one
fsync of queue/mess and queue/todo. The run must show that batches formed
(queued's log line "commit: N messages shared one fsync"), every message
acknowledged before a cut must survive it, and with directory fsyncs made
a no-op the checker must still find a loss."""
import os
import re
import smtplib
import threading
import time
import unittest

import crashstate
from harness import remove_test_users
import test_powercut
from test_powercut import POINTS, SEED, Run

# Either shared sync counts: which of the two a burst meets depends on how
# the fsyncs of the message files fall.
BATCH = re.compile(r"queued: commit: (\d+) messages shared one fsync of queue/(?:mess|todo)")


class GroupRun(Run):
    """Rounds of `clients` SMTP clients, each sending one message at once."""

    clients = 8

    def send(self, smtpd, messages):
        lock = threading.Lock()
        errors = []

        def one(i, barrier):
            tag, text = self.message(i)
            try:
                with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=120) as s:
                    s.ehlo()
                    s.mail(self.user.address)
                    s.rcpt(self.user.address)
                    # Every client of the round ends its DATA at once, so
                    # that their commits meet whatever the machine's speed.
                    try:
                        barrier.wait(60)
                    except threading.BrokenBarrierError:
                        pass
                    code, reply = s.data(text.replace(b"\n", b"\r\n"))
                    if code != 250:
                        raise smtplib.SMTPDataError(code, reply)
                at = self.op_count()
                with lock:
                    self.acks[tag] = at
            except (OSError, smtplib.SMTPException) as e:
                with lock:
                    errors.append((tag, e))

        for first in range(0, messages, self.clients):
            round_ = range(first, min(messages, first + self.clients))
            barrier = threading.Barrier(len(round_))
            threads = [threading.Thread(target=one, args=(i, barrier)) for i in round_]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
        self.errors = errors


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists("/dev/fuse"), "needs root and /dev/fuse")
class PowerCutGroup(unittest.TestCase):
    # The same instance, user and pristine queue as test_powercut's.
    setUpClass = classmethod(test_powercut.PowerCut.setUpClass.__func__)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def batches(self):
        return [int(n) for n in BATCH.findall(self.inst.log())]

    def test_batches_form_and_acknowledged_mail_survives_every_cut(self):
        started = time.time()
        before = len(self.batches())
        run = GroupRun(self.inst, self.user, self.pristine, "group")
        run.workload(messages=24)
        self.assertEqual(run.errors, [])
        self.assertEqual(len(run.acks), 24, "every message of the run is acknowledged")
        batches = self.batches()[before:]
        self.assertTrue(batches and max(batches) > 1, "no fsync of queue/mess or queue/todo covered two messages:\n" +
                        self.inst.log()[-3000:])
        log = crashstate.Log(run.logpath, run.snapshot)
        points = crashstate.cut_points(log, list(run.acks.values()), POINTS, crashstate.make_rng(SEED))
        found = run.check_states(points)
        print(f"\npowercut group: batches of {batches} messages, {log.count} operations, {found['cuts']} cut points, "
              f"{found['states']} crash states, {len(found['duplicates'])} duplicates, "
              f"{time.time() - started:.0f}s")
        detail = "\n".join(f"{k}: {found[k]}" for k in ("lost", "corrupt", "misdelivered", "stuck", "unswept"))
        for kind in ("lost", "corrupt", "misdelivered", "stuck", "unswept"):
            self.assertEqual(found[kind], [], detail)

    def test_missing_directory_fsync_loses_mail_in_a_batch(self):
        run = GroupRun(self.inst, self.user, self.pristine, "group-ignore-dir-fsync", fs_flags=["--ignore-dir-fsync"])
        run.workload(messages=6)
        self.assertEqual(len(run.acks), 6)
        found = run.check_states(sorted(run.acks.values()), only_durable=True, wait=10, stop_at_loss=True)
        self.assertNotEqual(found["lost"], [], f"no loss found: {found}")


if __name__ == "__main__":
    unittest.main()
