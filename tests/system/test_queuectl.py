"""queuectl and sendmail -qR/-qS/-qI: an administrator's queue actions on a
real instance, with mail stuck for a remote domain that does not answer (a
closed loopback port in smtproutes) and local programs that defer or block,
so that a delivery is in flight when an action runs. After every action a
message is delivered exactly once or gone; held mail stays held across a
restart of the system."""
import os
import signal
import unittest

from harness import IS_ROOT, Instance, free_port, maildir_files, remove_test_users, wait_for


@unittest.skipUnless(IS_ROOT, "queuectl's trust in a request's owner needs real users")
class QueueCtl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = alice = inst.add_user("alice")
        port = free_port()  # nothing listens: connection refused, a deferral
        inst.control("smtproutes", f"stuck.example:127.0.0.1:{port}\nother.example:127.0.0.1:{port}\n")
        # alice-gated: delivers (one line in gated.log) once gate exists;
        # until then a temporary failure. alice-slow: waits for go, then
        # delivers if go says ok, else fails temporarily.
        cls.gate = os.path.join(alice.home, "gate")
        cls.go = os.path.join(alice.home, "go")
        cls.started = os.path.join(alice.home, "started")
        gated = alice.write("gated.sh", f"#!/bin/sh\n[ -e {cls.gate} ] || {{ echo 'gate closed'; exit 111; }}\n"
                                        f"grep '^Subject:' >> {alice.home}/gated.log; exit 0\n", 0o755)
        slow = alice.write("slow.sh", f"#!/bin/sh\nsubj=$(grep '^Subject:')\necho \"$subj\" >> {cls.started}\n"
                                      f"i=0; while [ ! -e {cls.go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
                                      f"grep -q ok {cls.go} || {{ echo 'told to fail'; exit 111; }}\n"
                                      f"echo \"$subj\" >> {alice.home}/slow.log; exit 0\n", 0o755)
        alice.write(".qmail-gated", f"|{gated}\n")
        alice.write(".qmail-slow", f"|{slow}\n")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    # -- helpers ---------------------------------------------------------
    def queue(self, sender, rcpts, subject):
        before = set(os.listdir(self.qdir("todo")))
        p = self.inst.inject(["-f", sender] + rcpts, f"Subject: {subject}\n\nbody of {subject}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        new = set(os.listdir(self.qdir("todo"))) - before
        self.assertEqual(len(new), 1, new)
        return new.pop()

    def qdir(self, sub):
        return os.path.join(self.inst.home, "queue", sub)

    def record(self, mid):
        """send's record of mid as {address: (state, attempts)}, and held."""
        try:
            with open(os.path.join(self.qdir("state"), mid)) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None, False
        rs = [l.split("\t") for l in lines if l.startswith("R\t")]
        ends = [l for l in lines if l.startswith("E\t")]
        self.assertEqual(ends, [f"E\t{len(rs)}"], lines)  # the E line stays true
        return {r[4]: (r[1][1], int(r[2])) for r in rs}, any(l.startswith("H\t") for l in lines)

    def attempts(self, mid, rcpt):
        rec, _ = self.record(mid)
        return rec[rcpt][1] if rec and rcpt in rec else 0

    def wait_attempts(self, mid, rcpt, n):
        wait_for(lambda: self.attempts(mid, rcpt) >= n, 30, f"{n} attempt(s) of {mid} to {rcpt}\n" + self.inst.log()[-2000:])

    def ctl(self, args, user=None):
        return self.inst.run("queuectl", args, user=user, timeout=120)

    def act(self, args):
        p = self.ctl(args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout.decode()

    def gone(self, mid):
        return not os.path.exists(os.path.join(self.qdir("todo"), mid))

    def lines(self, name):
        try:
            with open(os.path.join(self.alice.home, name)) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    # -- tests -------------------------------------------------------------
    def test_show_prints_envelope_states_and_message(self):
        a = self.alice
        mid = self.queue(a.address, ["friend@stuck.example", a.address], "shown")
        self.wait_attempts(mid, "friend@stuck.example", 1)
        wait_for(lambda: self.record(mid)[0][a.address][0] == "D", 30, "the local delivery")
        out = self.act(["show", mid])
        self.assertIn(f"sender: <{a.address}>", out)
        self.assertRegex(out, r"recipient: <friend@stuck\.example> remote: pending, 1 attempt, next attempt \w+")
        self.assertIn(f"recipient: <{a.address}> local: delivered", out)
        self.assertIn("Subject: shown", out)
        self.assertIn("body of shown", out)
        headers = self.act(["show", "-h", mid])
        self.assertIn("Subject: shown", headers)
        self.assertNotIn("body of shown", headers)
        body = self.act(["show", "-b", mid])
        self.assertNotIn("Subject: shown", body)
        self.assertIn("body of shown", body)
        # Another user may neither look nor change.
        p = self.ctl(["show", mid], user=a)
        self.assertEqual(p.returncode, 100, p.stdout)
        p = self.ctl(["hold", "-i", mid], user=a)
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"only root", p.stderr)
        self.assertEqual(self.ctl(["show", "nosuchid"]).returncode, 100)
        self.act(["delete", "-i", mid])
        wait_for(lambda: self.gone(mid), 30, "the deleted message to go")

    def test_hold_survives_restart_and_release_delivers_once(self):
        a, inst = self.alice, self.inst
        rcpt = f"{a.name}-gated@{inst.me}"
        mid = self.queue("someone@example.org", [rcpt], "held one")
        self.wait_attempts(mid, rcpt, 1)
        out = self.act(["hold", "-i", mid])
        self.assertEqual(out.splitlines()[0], f"msg={mid} action=hold")
        self.assertTrue(self.record(mid)[1])
        self.assertIn(f"{mid}!", inst.mailq())
        inst.stop()
        inst.start()
        self.assertIn(f"{mid}!", inst.mailq())
        # And across a crash of the whole system (kill -9, as test_crash).
        os.killpg(inst.proc.pid, signal.SIGKILL)
        inst.proc.wait()
        inst.proc = None
        inst.start()
        self.assertIn(f"{mid}!", inst.mailq())
        self.assertTrue(self.record(mid)[1])
        # The gate is open and the queue run, yet a held message is not tried.
        open(self.gate, "w").close()
        try:
            self.assertEqual(inst.retry().returncode, 0)
            witness = self.queue("someone@example.org", [rcpt], "witness")
            wait_for(lambda: "Subject: witness" in self.lines("gated.log"), 30, "the witness")
            self.assertEqual(self.attempts(mid, rcpt), 1)
            self.assertNotIn("Subject: held one", self.lines("gated.log"))
            out = self.act(["release", "-i", mid])
            self.assertIn(f"msg={mid} action=release", out)
            wait_for(lambda: self.gone(mid) and self.gone(witness), 30, "the released message")
            self.assertEqual(self.lines("gated.log").count("Subject: held one"), 1)
        finally:
            os.unlink(self.gate)

    def test_selectors_delete_exactly_the_named_messages_without_bounces(self):
        a, inst = self.alice, self.inst
        before = len(maildir_files(a.maildir))
        m1 = self.queue("one@example.org", ["x@stuck.example"], "d1")
        m2 = self.queue(a.address, ["y@other.example"], "d2")
        m3 = self.queue(a.address, ["X@Stuck.Example", "z@other.example"], "d3")
        m4 = self.queue(a.address, ["w@stuck.example"], "d4")
        for m, r in ((m1, "x@stuck.example"), (m2, "y@other.example"), (m4, "w@stuck.example")):
            self.wait_attempts(m, r, 1)
        out = self.act(["delete", "-s", "ONE@example.org"])
        self.assertEqual(out.splitlines(), [f"msg={m1} action=delete", "done messages=1"])
        out = self.act(["hold", "-r", "x@stuck.example"])  # m3, case aside
        self.assertEqual(out.splitlines(), [f"msg={m3} action=hold", "done messages=1"])
        out = self.act(["delete", "-d", "other.example"])
        self.assertEqual(sorted(out.splitlines()[:-1]), sorted([f"msg={m2} action=delete", f"msg={m3} action=delete"]))
        wait_for(lambda: self.gone(m1) and self.gone(m2) and self.gone(m3), 30, "the deleted messages to go")
        self.assertFalse(self.gone(m4))
        self.assertIn(m4, inst.mailq())
        out = self.act(["delete", "ALL"])
        self.assertIn(f"msg={m4} action=delete", out)
        wait_for(lambda: self.gone(m4), 30, "m4 to go")
        self.assertEqual(len(maildir_files(a.maildir)), before)  # no bounce for a delete

    def test_sendmail_q_variants_retry_only_those_messages(self):
        inst = self.inst
        ma = self.queue("s1@example.org", ["a@stuck.example"], "qa")
        mb = self.queue("s2@example.org", ["b@other.example"], "qb")
        self.wait_attempts(ma, "a@stuck.example", 1)
        self.wait_attempts(mb, "b@other.example", 1)
        p = inst.sendmail(["-qRstuck.example"], b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_attempts(ma, "a@stuck.example", 2)
        p = inst.sendmail(["-qS", "s2@example.org"], b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_attempts(mb, "b@other.example", 2)
        self.assertEqual(self.attempts(ma, "a@stuck.example"), 2)
        p = inst.sendmail([f"-qI{ma}"], b"")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_attempts(ma, "a@stuck.example", 3)
        self.assertEqual(self.attempts(mb, "b@other.example"), 2)
        # mailq: each pending recipient's next attempt and last reason.
        q = inst.mailq()
        self.assertRegex(q, r"remote <a@stuck\.example>  \(pending, 3 attempts, next attempt [^)]+\)")
        self.assertIn("last failure:", q)
        # requeue: the attempts start afresh, and it is tried at once.
        out = self.act(["requeue", "-i", ma])
        self.assertIn(f"msg={ma} action=requeue", out)
        wait_for(lambda: self.attempts(ma, "a@stuck.example") == 1, 30, "the requeued message's new attempt")
        self.assertEqual(self.attempts(mb, "b@other.example"), 2)
        self.assertEqual(inst.sendmail(["-qI", "not/an/id"], b"").returncode, 64)
        self.act(["delete", "-i", ma, "-i", mb])
        wait_for(lambda: self.gone(ma) and self.gone(mb), 30, "the messages to go")

    def in_flight(self, subject):
        rcpt = f"{self.alice.name}-slow@{self.inst.me}"
        mid = self.queue("someone@example.org", [rcpt], subject)
        wait_for(lambda: f"Subject: {subject}" in self.lines("started"), 30, "the slow delivery to start")
        return mid

    def test_actions_on_a_delivery_in_flight(self):
        # delete while in flight, and the delivery succeeds: delivered once, gone.
        m1 = self.in_flight("flight ok")
        out = self.act(["delete", "-i", m1])
        self.assertIn(f"msg={m1} action=delete in_flight=1", out)
        self.assertFalse(self.gone(m1))
        with open(self.go, "w") as f:
            f.write("ok\n")
        wait_for(lambda: self.gone(m1), 30, "the message to go after its delivery")
        self.assertEqual(self.lines("slow.log").count("Subject: flight ok"), 1)
        os.unlink(self.go)
        # delete while in flight, and the delivery defers: gone, never tried again.
        m2 = self.in_flight("flight fails")
        self.act(["delete", "-i", m2])
        with open(self.go, "w") as f:
            f.write("fail\n")
        wait_for(lambda: self.gone(m2), 30, "the message to go after its deferral")
        self.assertNotIn("Subject: flight fails", self.lines("slow.log"))
        os.unlink(self.go)
        # hold while in flight: the delivery ends, a deferral is not tried
        # again until release, then it is delivered once.
        m3 = self.in_flight("flight held")
        self.assertIn("in_flight=1", self.act(["hold", "-i", m3]))
        with open(self.go, "w") as f:
            f.write("fail\n")
        rcpt = f"{self.alice.name}-slow@{self.inst.me}"
        wait_for(lambda: self.record(m3)[0][rcpt] == ("P", 1) and "told to fail" in self.inst.mailq(), 30,
                 "the deferral")
        with open(self.go, "w") as f:
            f.write("ok\n")
        self.inst.retry()
        self.assertEqual(self.record(m3), ({rcpt: ("P", 1)}, True))
        self.act(["release", "-i", m3])
        wait_for(lambda: self.gone(m3), 30, "the released message")
        self.assertEqual(self.lines("slow.log").count("Subject: flight held"), 1)
        os.unlink(self.go)

    def test_request_of_an_untrusted_owner_is_refused(self):
        mid = self.queue("someone@example.org", ["v@stuck.example"], "forged")
        self.wait_attempts(mid, "v@stuck.example", 1)
        path = os.path.join(self.qdir("ctl"), "forged1")
        with open(path + ".new", "w") as f:
            f.write(f"postern-request 1\ndelete\ti\t{mid}\nE\t1\n")
        os.chown(path + ".new", self.alice.uid, -1)
        os.rename(path + ".new", path)
        self.inst.retry()
        wait_for(lambda: not os.path.exists(path), 30, "send to remove the forged request")
        self.assertFalse(os.path.exists(path + ".answer"))
        self.assertFalse(self.gone(mid))
        self.assertEqual(self.record(mid)[0]["v@stuck.example"][0], "P")
        self.act(["delete", "-i", mid])
        wait_for(lambda: self.gone(mid), 30, "the message to go")


if __name__ == "__main__":
    unittest.main()
