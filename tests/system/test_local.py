"""Local delivery end to end: .qmail files (Maildir, mbox, programs,
forwards, extensions), the safety checks, default delivery, and mbox
locking against procmail's lockfile and an fcntl lock holder.

Faults and bad input are in test_faults.py."""
import mailbox
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import IS_ROOT, Instance, maildir_files, read_message, remove_test_users, wait_for


# -- helpers shared with test_faults.py ---------------------------------------

def report_parts(msg):
    """The three parts of an RFC 3464 report, checked for shape."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    return parts


def wait_bounce(inst, user, recipient, timeout=20):
    """Waits for the bounce in user's Maildir that reports recipient;
    returns (text part, delivery-status part as text)."""
    needle = f"Final-Recipient: rfc822; {recipient}".encode()

    def find():
        for path in maildir_files(user.maildir):
            with open(path, "rb") as f:
                if needle in f.read():
                    return path
        return None
    path = wait_for(find, timeout, f"a bounce for {recipient} in {user.maildir}\nlog:\n" + inst.log()[-3000:])
    msg = read_message(path)
    assert msg["Return-Path"] == "<>", msg["Return-Path"]
    parts = report_parts(msg)
    return parts[0].get_content(), parts[1].as_string()


def stays(predicate, seconds, what):
    """Asserts that predicate holds the whole time, polling."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert predicate(), what
        time.sleep(0.05)


def local_running(inst, user):
    """True while a local delivery runs as user: lspawn's delivery child
    (named local, ps -C local) or a bin/local process."""
    prog = os.path.join(inst.bin, "local").encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/comm", "rb") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/status") as f:
                uid = int(next(l for l in f if l.startswith("Uid:")).split()[1])
        except (OSError, StopIteration):
            continue
        if uid == user.uid and (comm == b"local" or (argv and argv[0] == prog)):
            return True
    return False


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def run_as(user, argv, inst, **kw):
    """Runs argv as user (in a multi-user instance), else as ourselves."""
    if IS_ROOT and inst.multi:
        kw.update(user=user.uid, group=user.gid, extra_groups=[])
    return subprocess.run(argv, capture_output=True, timeout=30, **kw)


def discard_on_failure(test, inst, user, ext):
    """Registers a clean-up for a test that leaves a deferred message for
    user-ext when it fails: the message is then thrown away, so the next
    tests find an empty queue."""
    def discard():
        if inst.queue_count() == 0:
            return
        user.write(f".qmail-{ext}", "|exit 0\n")
        inst.retry()
        try:
            inst.wait_queue_empty(20)
        except AssertionError:
            pass
    test.addCleanup(discard)


UFLINE = re.compile(r"^From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\n$")


class Local(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("alice")   # the sender; bounces land here
        cls.bob = inst.add_user("bob")
        cls.carol = inst.add_user("carol")   # .qmail-default that dumps its environment
        cls.dave = inst.add_user("dave")     # extensions
        cls.erin = inst.add_user("erin")     # erin and frank forward to each other
        cls.frank = inst.add_user("frank")
        cls.gina = inst.add_user("gina")     # forward target
        # A second local domain with dots, for HOST2..HOST4.
        inst.control("locals", f"{inst.me}\nlocalhost\nmail.example.org")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, to, text, sender=None):
        sender = self.alice.address if sender is None else sender
        p = self.inst.inject(["-f", sender, to], text)
        self.assertEqual(p.returncode, 0, p.stderr)

    def addr(self, user, ext=None, domain=None):
        return f"{user.name}{'-' + ext if ext else ''}@{domain or self.inst.me}"

    # -- 1. lines ------------------------------------------------------------
    def test_comments_blank_lines_and_two_maildir_lines(self):
        inst, bob = self.inst, self.bob
        bob.write(".qmail-two", "# keep two copies\n\n   \n./Maildir/\n#./Never/\n\t\n"
                                f"{bob.home}/Maildir/  \n# the end\n")
        before = len(maildir_files(bob.maildir))
        self.send(self.addr(bob, "two"), "Subject: two copies\n\nthe body\n")
        files = inst.wait_maildir(bob.maildir, before + 2)
        inst.wait_queue_empty()
        self.assertEqual(len(maildir_files(bob.maildir)), before + 2, "exactly two copies")
        self.assertFalse(os.path.exists(os.path.join(bob.home, "Never")))
        for path in files[-2:]:
            msg = read_message(path)
            self.assertEqual(msg["Subject"], "two copies")
            self.assertEqual(msg["Delivered-To"], self.addr(bob, "two"))
            self.assertEqual(msg["Return-Path"], f"<{self.alice.address}>")
            self.assertEqual(msg.get_content(), "the body\n")
        self.assertIn(f"delivered to ./Maildir/; delivered to {bob.home}/Maildir/", inst.log())

    # -- 2. mbox -------------------------------------------------------------
    def test_mbox_line_format_append_and_mua(self):
        inst, bob, alice = self.inst, self.bob, self.alice
        bob.write(".qmail-mbox", "./Mailbox\n")
        mbox = os.path.join(bob.home, "Mailbox")
        self.send(self.addr(bob, "mbox"),
                  "Subject: first mbox\n\nFrom here on the body starts with From.\n>From already quoted\n"
                  "Fromage is not quoted\n From indented is not either\nlast line\n")
        wait_for(lambda: os.path.exists(mbox) and read_bytes(mbox).endswith(b"\n\n"), 20,
                 "the first mbox delivery\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        first = read_bytes(mbox)
        self.assertEqual(os.stat(mbox).st_uid, bob.uid)
        self.assertEqual(os.stat(mbox).st_mode & 0o777, 0o600)
        lines = first.decode().split("\n")
        self.assertRegex(lines[0] + "\n", UFLINE)
        self.assertEqual(lines[0].split()[1], alice.address)
        self.assertEqual(lines[1], f"Return-Path: <{alice.address}>")
        self.assertEqual(lines[2], f"Delivered-To: {self.addr(bob, 'mbox')}")
        self.assertTrue(lines[3].startswith("Received: (postern"), lines[3])
        body = first.decode().split("\n\n", 1)[1]
        self.assertEqual(body, ">From here on the body starts with From.\n>>From already quoted\n"
                               "Fromage is not quoted\n From indented is not either\nlast line\n\n")

        # The second one appends, and one without a final newline gets one.
        self.send(self.addr(bob, "mbox"), "Subject: second mbox\n\nno newline at the end")
        wait_for(lambda: read_bytes(mbox).count(b"\nFrom ") == 1 and read_bytes(mbox).endswith(b"\n\n"), 20,
                 "the second mbox delivery\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        both = read_bytes(mbox)
        self.assertTrue(both.startswith(first), "the first message must be untouched")
        self.assertTrue(both.endswith(b"\nno newline at the end\n\n"), both[-60:])
        self.assertEqual(len(re.findall(rb"(?m)^From ", both)), 2)

        # The format check: Python's mbox reader and a real MUA.
        box = mailbox.mbox(mbox, create=False)
        try:
            msgs = list(box)
        finally:
            box.close()
        self.assertEqual([m["Subject"] for m in msgs], ["first mbox", "second mbox"])
        for m in msgs:
            self.assertTrue(m.get_from().startswith(alice.address + " "), m.get_from())
            self.assertEqual(m["Delivered-To"], self.addr(bob, "mbox"))
        self.assertIn(">From here on", msgs[0].get_payload())

        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "mbox")
            shutil.copy(mbox, copy)
            p = subprocess.run(["mail", "-n", "-N", "-f", copy], input=b"h\np 1\nx\n", capture_output=True,
                               timeout=20, env={"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb"})
            out = p.stdout.decode(errors="replace")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("2 messages", out)
            self.assertRegex(out, r"(?m)^.{0,4}1 .*first mbox$")
            self.assertRegex(out, r"(?m)^.{0,4}2 .*second mbox$")
            self.assertIn(">From here on the body starts with From.", out)

    # -- 3. programs -----------------------------------------------------------
    def dump_env(self, address, subject, out="env.out"):
        carol = self.carol
        env_file = os.path.join(carol.home, out)
        stdin_file = os.path.join(carol.home, "stdin.out")
        for f in (env_file, stdin_file):
            if os.path.exists(f):
                os.unlink(f)
        self.send(address, f"Subject: {subject}\n\nthe body\n")
        self.inst.wait_queue_empty()
        self.assertTrue(os.path.exists(env_file), "the program did not run\n" + self.inst.log()[-2000:])
        with open(env_file, "rb") as f:
            items = [i.decode() for i in f.read().split(b"\0") if i]
        env = dict(i.split("=", 1) for i in items)
        stdin = read_bytes(stdin_file) if os.path.exists(stdin_file) else None
        return env, stdin

    def test_program_gets_message_and_environment(self):
        inst, carol, alice = self.inst, self.carol, self.alice
        carol.write(".qmail-default", '|env -0 > "$HOME/env.out"; cat > "$HOME/stdin.out"\n')
        rcpt = self.addr(carol, "foo-bar-baz", "mail.example.org")
        env, stdin = self.dump_env(rcpt, "env test")
        expected = {
            "SENDER": alice.address,
            "NEWSENDER": alice.address,
            "RECIPIENT": rcpt,
            "USER": carol.name,
            "HOME": carol.home,
            "LOCAL": f"{carol.name}-foo-bar-baz",
            "HOST": "mail.example.org",
            "HOST2": "mail.example",
            "HOST3": "mail",
            "HOST4": "mail",
            "EXT": "foo-bar-baz",
            "EXT2": "bar-baz",
            "EXT3": "baz",
            "EXT4": "",
            "DEFAULT": "foo-bar-baz",
            "DTLINE": f"Delivered-To: {rcpt}\n",
            "RPLINE": f"Return-Path: <{alice.address}>\n",
            # postern's bin first, so that |preline works (commit c11bff6;
            # dot-qmail(5) still says /usr/local/bin:/usr/bin:/bin).
            "PATH": f"{inst.bin}:/usr/local/bin:/usr/bin:/bin",
        }
        for name, value in expected.items():
            self.assertEqual(env.get(name), value, name)
        self.assertRegex(env.get("UFLINE", ""), UFLINE)
        self.assertEqual(env["UFLINE"].split()[1], alice.address)
        # "this environment and no other" (the shell adds PWD itself).
        extra = set(env) - set(expected) - {"UFLINE", "PWD", "OLDPWD", "SHLVL", "_"}
        self.assertEqual(extra, set(), "unexpected environment variables")
        # The message exactly as queued: nothing prepended.
        self.assertTrue(stdin.startswith(b"Received: (postern "), stdin[:80])
        self.assertNotIn(b"Delivered-To:", stdin)
        self.assertNotIn(b"Return-Path:", stdin)
        self.assertIn(b"\nSubject: env test\n", stdin)
        self.assertTrue(stdin.endswith(b"\n\nthe body\n"), stdin[-40:])

        # Not a -default file: no DEFAULT; no extension: empty EXT.
        carol.write(".qmail-plain", '|env -0 > "$HOME/env-plain.out"\n')
        env, _ = self.dump_env(self.addr(carol, "plain"), "plain", "env-plain.out")
        self.assertNotIn("DEFAULT", env)
        self.assertEqual(env["EXT"], "plain")
        self.assertEqual(env["EXT2"], "")

        # The empty sender of a bounce.
        os.unlink(os.path.join(carol.home, "env.out"))
        p = inst.inject(["-f", "", self.addr(carol, "null")], "Subject: null\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        inst.wait_queue_empty()
        with open(os.path.join(carol.home, "env.out"), "rb") as f:
            env = dict(i.decode().split("=", 1) for i in f.read().split(b"\0") if i)
        self.assertEqual(env["SENDER"], "")
        self.assertEqual(env["RPLINE"], "Return-Path: <>\n")
        self.assertTrue(env["UFLINE"].startswith("From MAILER-DAEMON "), env["UFLINE"])

    def test_program_default_keeps_the_case_written(self):
        """dot-qmail(5): DEFAULT is the part of the extension that default
        stands for, in the case it was written."""
        carol = self.carol
        carol.write(".qmail-default", '|env -0 > "$HOME/env.out"; cat > "$HOME/stdin.out"\n')
        rcpt = f"{carol.name}-Foo-BaR@{self.inst.me}"
        env, _ = self.dump_env(rcpt, "case")
        self.assertEqual(env["LOCAL"], f"{carol.name}-Foo-BaR")
        self.assertEqual(env["RECIPIENT"], rcpt)
        self.assertEqual(env["DEFAULT"], "Foo-BaR")

    def test_program_exit_99_stops_the_file(self):
        inst, bob, alice = self.inst, self.bob, self.alice
        out = os.path.join(bob.home, "stop.out")
        bob.write(".qmail-stop", '|cat > "$HOME/stop.out"; exit 99\n./Maildir/\n')
        before_bob = len(maildir_files(bob.maildir))
        before_alice = len(maildir_files(alice.maildir))
        self.send(self.addr(bob, "stop"), "Subject: stop here\n\nx\n")
        wait_for(lambda: os.path.exists(out), 20, "the program to run\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        self.assertIn(b"Subject: stop here", read_bytes(out))
        self.assertRegex(inst.log(), rf"to=<{re.escape(self.addr(bob, 'stop'))}> channel=local relay=local .* status=sent reason=\"program \|cat")
        self.assertEqual(len(maildir_files(bob.maildir)), before_bob, "the line after exit 99 must not run")
        self.assertEqual(len(maildir_files(alice.maildir)), before_alice, "exit 99 is no failure: no bounce")

    def test_program_exit_100_bounces_with_its_output(self):
        inst, bob, alice = self.inst, self.bob, self.alice
        bob.write(".qmail-reject", "|echo 'we do not want mail about turnips'; exit 100\n./Maildir/\n")
        before_bob = len(maildir_files(bob.maildir))
        rcpt = self.addr(bob, "reject")
        self.send(rcpt, "Subject: turnips\n\nturnip body\n")
        text, status = wait_bounce(inst, alice, rcpt)
        self.assertIn("we do not want mail about turnips", text)
        self.assertIn("Action: failed", status)
        self.assertRegex(status, r"Status: 5\.\d\.\d")
        inst.wait_queue_empty()
        self.assertEqual(len(maildir_files(bob.maildir)), before_bob)

    def test_program_exit_111_defers_with_its_output(self):
        inst, bob = self.inst, self.bob
        discard_on_failure(self, inst, bob, "later")
        bob.write(".qmail-later", "|echo 'the filter database is busy'; exit 111\n./Maildir/\n")
        before_bob = len(maildir_files(bob.maildir))
        rcpt = self.addr(bob, "later")
        self.send(rcpt, "Subject: later\n\nx\n")
        wait_for(lambda: "the filter database is busy" in inst.mailq(), 20,
                 "mailq to show the deferral\n" + inst.log()[-2000:])
        q = inst.mailq()
        self.assertIn(f"local <{rcpt}>", q)
        self.assertIn("1 message in the queue", q)
        self.assertEqual(len(maildir_files(bob.maildir)), before_bob)
        # Fixed: the retry delivers it.
        bob.write(".qmail-later", "./Maildir/\n")
        self.assertEqual(inst.retry().returncode, 0)
        files = inst.wait_maildir(bob.maildir, before_bob + 1)
        self.assertEqual(read_message(files[-1])["Subject"], "later")
        inst.wait_queue_empty()

    # -- 4. forwards -------------------------------------------------------------
    def test_forward_ampersand_and_bare_name(self):
        inst, bob, gina, alice = self.inst, self.bob, self.gina, self.alice
        bob.write(".qmail-fwd1", f"&{gina.address}\n")
        bob.write(".qmail-fwd2", f"# a bare name gets the domain the mail came to\n{gina.name}\n")
        before = len(maildir_files(gina.maildir))
        self.send(self.addr(bob, "fwd1"), "Subject: via ampersand\n\nx\n")
        self.send(self.addr(bob, "fwd2"), "Subject: via bare name\n\nx\n")
        files = inst.wait_maildir(gina.maildir, before + 2)
        inst.wait_queue_empty()
        got = {}
        for path in files[before:]:
            msg = read_message(path)
            got[msg["Subject"]] = msg
        self.assertEqual(set(got), {"via ampersand", "via bare name"})
        for subject, ext in (("via ampersand", "fwd1"), ("via bare name", "fwd2")):
            msg = got[subject]
            self.assertEqual(msg.get_all("Delivered-To"), [gina.address, self.addr(bob, ext)])
            self.assertEqual(msg["Return-Path"], f"<{alice.address}>", "the envelope sender is kept")
        self.assertIn(f"forwarded to {gina.address}", inst.log())

    def test_forward_loop_bounces_as_looping(self):
        inst, erin, frank, alice = self.inst, self.erin, self.frank, self.alice
        erin.write(".qmail", f"&{frank.address}\n")
        frank.write(".qmail", f"&{erin.address}\n")
        self.send(erin.address, "Subject: round and round\n\nx\n")
        text, status = wait_bounce(inst, alice, erin.address, timeout=30)
        self.assertIn("looping", text)
        self.assertIn("Delivered-To", text)
        self.assertIn("Status: 5.4.6", status)
        inst.wait_queue_empty()
        # Once round and stopped: erin twice, frank once.
        self.assertEqual(inst.log().count(f"to=<{erin.address}> channel=local "), 2, inst.log()[-3000:])
        self.assertEqual(inst.log().count(f"to=<{frank.address}> channel=local "), 1)

    # -- 5. extensions -------------------------------------------------------------
    def test_extensions_pick_their_file(self):
        inst, dave = self.inst, self.dave
        boxes = {name: dave.make_maildir(name) for name in ("Foo", "FooDefault", "AB")}
        dave.write(".qmail-foo", "./Foo/\n")
        dave.write(".qmail-foo-default", "./FooDefault/\n")
        dave.write(".qmail-a:b", "./AB/\n")
        cases = [(f"{dave.name}-foo@{inst.me}", "Foo"),
                 (f"{dave.name}-foo-bar@{inst.me}", "FooDefault"),
                 (f"{dave.name.upper()}-FOO@{inst.me}", "Foo"),
                 (f"{dave.name}-Foo-Bar-Baz@{inst.me}", "FooDefault"),
                 (f"{dave.name}-a.b@{inst.me}", "AB")]
        for rcpt, _ in cases:
            self.send(rcpt, f"Subject: for {rcpt}\n\nx\n")
        inst.wait_queue_empty()
        for rcpt, box in cases:
            subjects = [read_message(p)["Subject"] for p in maildir_files(boxes[box])]
            self.assertIn(f"for {rcpt}", subjects, f"{rcpt} should land in {box}\n" + inst.log()[-2000:])
        self.assertEqual(maildir_files(dave.maildir), [], "no extension mail in the default Maildir")

    def test_extension_without_file_bounces(self):
        inst, dave, alice = self.inst, self.dave, self.alice
        rcpt = f"{dave.name}-nothing-here@{inst.me}"
        self.send(rcpt, "Subject: to no file\n\nx\n")
        text, status = wait_bounce(inst, alice, rcpt)
        self.assertIn("no mailbox here by that name", text)
        self.assertIn("Status: 5.1.1", status)
        inst.wait_queue_empty()

    def test_extension_never_names_a_file_outside_home(self):
        inst, bob, alice = self.inst, self.bob, self.alice
        pwned = os.path.join(bob.home, "pwned")  # bob may write only here
        # What a naive ".qmail-" + ext would open for bob-x/../../trap:
        # ~bob/.qmail-x/../../trap, that is users/trap.
        bob.mkdir(".qmail-x", 0o755)
        trap = os.path.join(os.path.dirname(bob.home), "trap")
        with open(trap, "w") as f:
            f.write(f"|touch {pwned}\n")
        os.chown(trap, bob.uid, bob.gid)

        def snapshot():
            found = set()
            for top in (os.path.dirname(bob.home), inst.home):
                for root, dirs, files in os.walk(top):
                    if root.startswith(os.path.join(inst.home, "queue")) or root.startswith(alice.home):
                        continue
                    found.update(os.path.join(root, n) for n in dirs + files)
            return found
        before = snapshot()
        rcpts = [f"{bob.name}-x/../../trap@{inst.me}", f"{bob.name}-../../etc/passwd@{inst.me}",
                 f"nosuchname-../../etc@{inst.me}"]
        for rcpt in rcpts:
            self.send(rcpt, "Subject: climbing\n\nx\n")
        for rcpt in rcpts:
            text, status = wait_bounce(inst, alice, rcpt)
            self.assertIn("no mailbox here by that name", text)
            self.assertIn("Status: 5.1.1", status)
        inst.wait_queue_empty()
        self.assertFalse(os.path.exists(pwned), "a file outside the home directory was used")
        self.assertEqual(snapshot() - before, set(), "files were created")

    # -- 7. safety ---------------------------------------------------------------
    def test_writable_dot_qmail_is_deferred_until_fixed(self):
        inst, bob = self.inst, self.bob
        bob.make_maildir("Safe")
        discard_on_failure(self, inst, bob, "gw")
        bob.write(".qmail-gw", "./Safe/\n", 0o664)
        discard_on_failure(self, inst, bob, "ow")
        bob.write(".qmail-ow", "./Safe/\n", 0o646)
        safe = os.path.join(bob.home, "Safe")
        for ext in ("gw", "ow"):
            self.send(self.addr(bob, ext), f"Subject: writable {ext}\n\nx\n")
        wait_for(lambda: inst.mailq().count("is writable by group or others") == 2, 20,
                 "mailq to show both deferrals\n" + inst.mailq() + inst.log()[-2000:])
        q = inst.mailq()
        self.assertIn(".qmail-gw", q)
        self.assertIn(".qmail-ow", q)
        self.assertEqual(maildir_files(safe), [])
        for ext in ("gw", "ow"):
            os.chmod(os.path.join(bob.home, f".qmail-{ext}"), 0o644)
        self.assertEqual(inst.retry().returncode, 0)
        files = inst.wait_maildir(safe, 2)
        self.assertEqual(sorted(read_message(p)["Subject"] for p in files), ["writable gw", "writable ow"])
        inst.wait_queue_empty()

    # -- 8. mbox locking -------------------------------------------------------------
    def test_mbox_waits_for_a_procmail_dot_lock(self):
        inst, bob = self.inst, self.bob
        mbox = os.path.join(bob.home, "dotlocked")
        lock = mbox + ".lock"
        discard_on_failure(self, inst, bob, "dotlocked")
        bob.write(".qmail-dotlocked", "./dotlocked\n")
        p = run_as(bob, ["lockfile", "-r0", lock], inst)
        self.assertEqual(p.returncode, 0, p.stderr)
        try:
            self.send(self.addr(bob, "dotlocked"), "Subject: behind a dot lock\n\nx\n")
            wait_for(lambda: local_running(inst, bob), 20,
                     "local to start\n" + inst.log()[-2000:])
            stays(lambda: not os.path.exists(mbox) or os.path.getsize(mbox) == 0, 2.5,
                  "local wrote to a locked mailbox")
            self.assertTrue(os.path.exists(lock))
        finally:
            os.unlink(lock)
        wait_for(lambda: os.path.exists(mbox) and b"Subject: behind a dot lock" in read_bytes(mbox), 20,
                 "the delivery after the lock went\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        self.assertFalse(os.path.exists(lock), "local must remove its own dot lock")
        self.assertEqual(len(re.findall(rb"(?m)^From ", read_bytes(mbox))), 1)

    def test_mbox_waits_for_an_fcntl_lock(self):
        inst, bob = self.inst, self.bob
        mbox = os.path.join(bob.home, "fcntllocked")
        bob.write("fcntllocked", "", 0o600)
        discard_on_failure(self, inst, bob, "fcntllocked")
        bob.write(".qmail-fcntllocked", "./fcntllocked\n")
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR)\n"
             "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
             "print('locked', flush=True)\n"
             "sys.stdin.read()\n", mbox],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline(), b"locked\n")
            self.send(self.addr(bob, "fcntllocked"), "Subject: behind an fcntl lock\n\nx\n")
            # local takes the dot lock first, then waits in fcntl.
            wait_for(lambda: os.path.exists(mbox + ".lock"), 20, "local's dot lock\n" + inst.log()[-2000:])
            self.assertTrue(local_running(inst, bob))
            stays(lambda: os.path.getsize(mbox) == 0, 2.5, "local wrote to a locked mailbox")
        finally:
            holder.stdin.close()
            holder.wait(10)
        wait_for(lambda: b"Subject: behind an fcntl lock" in read_bytes(mbox), 20,
                 "the delivery after the lock went\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        self.assertFalse(os.path.exists(mbox + ".lock"))
        self.assertTrue(read_bytes(mbox).endswith(b"\n\n"))


# -- 6. default delivery ---------------------------------------------------------
class MboxDefault(unittest.TestCase):
    """start ./Mailbox: users without a .qmail get an mbox."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(delivery="./Mailbox")
        cls.alice = cls.inst.add_user("alice")
        cls.bob = cls.inst.add_user("bob")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def test_no_dot_qmail_and_empty_dot_qmail_get_the_mbox(self):
        inst, alice, bob = self.inst, self.alice, self.bob
        bob.write(".qmail", "")  # an empty file means the default too
        for user in (alice, bob):
            p = inst.inject(["-f", f"someone@{inst.me}", user.address], f"Subject: to {user.name}\n\nhello\n")
            self.assertEqual(p.returncode, 0, p.stderr)
        inst.wait_queue_empty()
        for user in (alice, bob):
            mbox = os.path.join(user.home, "Mailbox")
            self.assertTrue(os.path.exists(mbox), inst.log()[-2000:])
            data = read_bytes(mbox)
            self.assertTrue(data.startswith(f"From someone@{inst.me} ".encode()), data[:80])
            self.assertIn(f"\nDelivered-To: {user.address}\n".encode(), data)
            self.assertIn(f"\nSubject: to {user.name}\n".encode(), data)
            self.assertTrue(data.endswith(b"\n\nhello\n\n"))
            self.assertEqual(maildir_files(user.maildir), [], "the Maildir is not the default here")
            box = mailbox.mbox(mbox, create=False)
            try:
                self.assertEqual([m["Subject"] for m in box], [f"to {user.name}"])
            finally:
                box.close()


if __name__ == "__main__":
    unittest.main()
