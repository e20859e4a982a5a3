"""send: retries, bounces, double bounces, queue lifetime, control files."""
import email
import os
import signal
import time
import unittest

from harness import IS_ROOT, Instance, maildir_files, read_message, remove_test_users, wait_for


def report_parts(msg):
    """The three parts of an RFC 3464 report, checked for shape."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    return parts


class Send(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.alice = cls.inst.add_user("alice")
        cls.carol = cls.inst.add_user("carol")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def test_program_deferred_then_delivered_after_sendmail_q(self):
        inst, carol = self.inst, self.carol
        flag = os.path.join(carol.home, "flag")
        out = os.path.join(carol.home, "retry-out")
        script = carol.write("retry.sh", f"#!/bin/sh\nif [ -e {flag} ]; then cat > {out}; exit 0; fi\n"
                                         f": > {flag}; echo 'not yet, try later'; exit 111\n", 0o755)
        carol.write(".qmail-retry", f"|{script}\n")
        p = inst.inject([f"{carol.name}-retry@{inst.me}"], "Subject: retry me\n\nbody\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: os.path.exists(flag), 20, "the first attempt")
        wait_for(lambda: 'status=deferred reason="not yet, try later' in inst.log(), 10, "the deferral in the log")
        q = inst.mailq()
        self.assertIn(f"{carol.name}-retry@{inst.me}", q)
        self.assertIn("not yet, try later", q)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(inst.retry().returncode, 0)
        # The script's `cat > out` creates the file before it writes to it:
        # the delivery is over only when the queue is empty.
        wait_for(lambda: os.path.exists(out), 20, "the retry after sendmail -q")
        inst.wait_queue_empty()
        with open(out) as f:
            self.assertIn("Subject: retry me", f.read())

    def test_permanent_failure_bounces_to_sender(self):
        inst, alice, carol = self.inst, self.alice, self.carol
        carol.write(".qmail-nope", "|echo 'this mailbox is closed (#5.2.1)'; exit 100\n")
        before = len(maildir_files(alice.maildir))
        p = inst.inject(["-f", alice.address, f"{carol.name}-nope@{inst.me}", f"{carol.name}@{inst.me}"],
                        "Subject: doomed\n\noriginal body text\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(alice.maildir, before + 1)
        bounce = read_message(files[-1])
        self.assertEqual(bounce["Return-Path"], "<>")
        parts = report_parts(bounce)
        text = parts[0].get_content()
        self.assertIn(f"{carol.name}-nope@{inst.me}", text)
        self.assertIn("this mailbox is closed", text)
        status = parts[1].as_string()
        self.assertIn(f"Final-Recipient: rfc822; {carol.name}-nope@{inst.me}", status)
        self.assertIn("Action: failed", status)
        self.assertIn("Status: 5.2.1", status)
        self.assertNotIn(f"Final-Recipient: rfc822; {carol.name}@{inst.me}\n", status,
                         "the delivered recipient must not be in the bounce")
        self.assertIn("original body text", parts[2].as_string())
        inst.wait_queue_empty()

    def test_bounce_of_a_bounce_goes_to_doublebounceto(self):
        inst, carol = self.inst, self.carol
        carol.write(".qmail-nope2", "|echo gone; exit 100\n")
        alias_maildir = os.path.join(inst.alias_home, "Maildir")
        before = len(maildir_files(alias_maildir))
        p = inst.inject(["-f", "", f"{carol.name}-nope2@{inst.me}"], "Subject: null sender\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(alias_maildir, before + 1)
        dbl = read_message(files[-1])
        self.assertEqual(dbl["Return-Path"], "<#@[]>")
        report_parts(dbl)
        inst.wait_queue_empty()

    def test_queue_lifetime_turns_deferral_into_bounce(self):
        inst, alice, carol = self.inst, self.alice, self.carol
        carol.write(".qmail-later", "|echo 'disk on fire'; exit 111\n")
        inst.control("queuelifetime", "2")
        os.kill(inst.proc.pid, signal.SIGHUP)
        try:
            wait_for(lambda: "reread the control files" in inst.log(), 10, "SIGHUP")
            before = len(maildir_files(alice.maildir))
            p = inst.inject(["-f", alice.address, f"{carol.name}-later@{inst.me}"], "Subject: too slow\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            wait_for(lambda: 'status=deferred reason="disk on fire' in inst.log(), 10, "the first deferral")
            time.sleep(3.5)  # the queue counts whole seconds
            inst.retry()
            files = inst.wait_maildir(alice.maildir, before + 1)
            parts = report_parts(read_message(files[-1]))
            self.assertIn("disk on fire", parts[0].get_content())
            self.assertIn("lifetime", parts[0].get_content())
            inst.wait_queue_empty()
        finally:
            inst.control("queuelifetime", "604800")
            os.kill(inst.proc.pid, signal.SIGHUP)

    def test_unknown_user_bounces(self):
        inst, alice = self.inst, self.alice
        before = len(maildir_files(alice.maildir))
        p = inst.inject(["-f", alice.address, f"nosuchuser@{inst.me}"], "Subject: to nobody\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(alice.maildir, before + 1)
        parts = report_parts(read_message(files[-1]))
        self.assertIn(f"nosuchuser@{inst.me}", parts[0].get_content())
        self.assertIn("Status: 5.1.1", parts[1].as_string())

    def test_unknown_user_goes_to_alias_default_when_present(self):
        inst = self.inst
        path = os.path.join(inst.alias_home, ".qmail-default")
        alias_maildir = os.path.join(inst.alias_home, "Maildir")
        with open(path) as f:
            installed = f.read()
        self.assertIn("aliasforward", installed, "make setup installs the aliases catch-all")
        with open(path, "w") as f:
            f.write("./Maildir/\n")
        try:
            before = len(maildir_files(alias_maildir))
            p = inst.inject([f"whoever@{inst.me}"], "Subject: catch all\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            files = inst.wait_maildir(alias_maildir, before + 1)
            self.assertEqual(read_message(files[-1])["Subject"], "catch all")
        finally:
            with open(path, "w") as f:
                f.write(installed)
        inst.wait_queue_empty()

    def test_sighup_rereads_locals(self):
        inst, carol = self.inst, self.carol
        inst.control("locals", f"{inst.me}\nlocalhost\nextra.example")
        os.kill(inst.proc.pid, signal.SIGHUP)
        wait_for(lambda: inst.log().count("reread the control files") >= 1, 10, "SIGHUP")
        time.sleep(0.2)
        before = len(maildir_files(carol.maildir))
        p = inst.inject([f"{carol.name}@extra.example"], "Subject: new local domain\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        inst.wait_maildir(carol.maildir, before + 1)


class Fairness(unittest.TestCase):
    """Local slots are shared between messages: a message to one recipient
    queued behind a message to thousands is delivered long before the big
    one finishes, whichever of their ids sorts first."""

    RECIPIENTS = 2000

    def test_small_message_overtakes_a_huge_one(self):
        inst = Instance()
        try:
            carol, alice = inst.add_user("fcarol"), inst.add_user("falice")
            fair = carol.make_maildir("fair")
            carol.write(".qmail-fair-default", "./fair/\n")
            inst.start()
            big = [f"{carol.name}-fair-{i}@{inst.me}" for i in range(self.RECIPIENTS)]
            p = inst.inject(["-f", "", *big], "Subject: to the many\n\nx\n", timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            # The big message holds the slots before the small ones arrive.
            wait_for(lambda: len(maildir_files(fair)) >= 20, 120, "the big message's first deliveries")
            for i in range(3):
                p = inst.inject([alice.address], f"Subject: small {i}\n\nx\n")
                self.assertEqual(p.returncode, 0, p.stderr)
            inst.wait_maildir(alice.maildir, 3, timeout=300)
            done_when_small_arrived = len(maildir_files(fair))
            wait_for(lambda: len(maildir_files(fair)) >= self.RECIPIENTS, 600,
                     f"all {self.RECIPIENTS} deliveries of the big message")
            # The three small messages did not wait for the big one: they
            # came while most of its recipients were still to be done.
            self.assertLess(done_when_small_arrived, self.RECIPIENTS // 2,
                            f"small messages arrived after {done_when_small_arrived} of the big one's deliveries")
            inst.wait_queue_empty(timeout=120)
        finally:
            inst.cleanup()
            remove_test_users()


class RemoteWaits(unittest.TestCase):
    """A remote recipient that cannot be reached waits and shows in mailq
    with the reason (here: no route to the unreachable relay)."""

    def test_remote_recipient_stays_in_mailq(self):
        inst = Instance()
        try:
            # A relay on a port nothing listens on: connection refused.
            inst.control("smtproutes", "remote.example:127.0.0.1:1")
            inst.start()
            p = inst.inject(["-f", "someone@example.org", "friend@remote.example"], "Subject: far away\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            wait_for(lambda: "establish an SMTP connection" in inst.mailq(), 20, "mailq to show the reason")
            q = inst.mailq()
            self.assertIn("remote <friend@remote.example>", q)
            self.assertIn("<someone@example.org>", q)
            self.assertIn("1 message in the queue", q)
            # Still there after a restart.
            inst.stop()
            inst.start()
            self.assertIn("friend@remote.example", inst.mailq())
        finally:
            inst.cleanup()


class NeverRoot(unittest.TestCase):
    """In a multi-user install the queue's programs refuse to run as root:
    send, rspawn, remote and clean by their real or effective user, queue
    by its effective user (a copy without its set-user-id bit)."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=True)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_programs_refuse_root(self):
        inst = self.inst
        for prog, args in (("send", []), ("rspawn", []), ("clean", []),
                           ("remote", ["example.org", "a@example.org", "b@example.org"])):
            p = inst.run(prog, args, input=b"", timeout=30)
            self.assertEqual(p.returncode, 111, f"{prog}: {p.stderr!r}")
            self.assertIn(b"refusing to run as root", p.stderr, prog)
        self.assertEqual(os.listdir(os.path.join(inst.home, "queue", "state")), [])

    def test_queue_without_setuid_refuses(self):
        inst = self.inst
        copy = os.path.join(inst.tmp, "queue-copy")
        with open(os.path.join(inst.bin, "queue"), "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
        os.chmod(copy, 0o755)
        import subprocess
        from harness import make_env
        p = subprocess.run([copy], input=b"Subject: x\n\nx\n", capture_output=True, timeout=30, env=make_env(), cwd="/")
        self.assertEqual(p.returncode, 61, p.stderr)
        self.assertIn(b"refusing to run as root", p.stderr)
        for d in ("pid", "mess", "todo"):
            self.assertEqual(os.listdir(os.path.join(inst.home, "queue", d)), [], d)


if not IS_ROOT:
    del NeverRoot  # needs root and real system users: left out, not skipped


if __name__ == "__main__":
    unittest.main()
