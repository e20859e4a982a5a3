"""Boot variants and the programs admins bring: every boot/ rc variant
started as it is and delivering one message (the +df ones honouring a
.forward first), Debian's procmail through |preline procmail, bsd-mailx's
`mail -s` sending through our sendmail, and bsd-mailx reading the mbox that
local writes."""
import mailbox
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import SRC, Instance, make_env, maildir_files, read_message, remove_test_users, wait_for

UFLINE = re.compile(r"^From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}$")
# procmail -d writes its own From_ line, with two spaces after the sender.
PROCMAIL_UFLINE = re.compile(r"^From (\S+)  (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                             r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def mbox_messages(path):
    box = mailbox.mbox(path, create=False)
    try:
        return list(box)
    finally:
        box.close()


def mailx_headers(path):
    """bsd-mailx's header summary of an mbox (on a copy: mailx rewrites)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "mbox")
        shutil.copy(path, copy)
        p = subprocess.run(["bsd-mailx", "-n", "-N", "-f", copy], input=b"h\nx\n", capture_output=True,
                           timeout=20, env={"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb"})
        assert p.returncode == 0, p.stderr
        return p.stdout.decode(errors="replace")


def forget_spool(user):
    """Removes /var/mail/LOGIN: procmail (setuid root) makes an empty one
    for every user it runs for, and binm1 delivers there."""
    try:
        os.unlink(f"/var/mail/{user.name}")
    except FileNotFoundError:
        pass


def run_as(user, argv, env, input=b""):
    return subprocess.run(argv, input=input, capture_output=True, timeout=30, env=env, cwd=user.home,
                          user=user.uid, group=user.gid, extra_groups=[])


class Variant:
    """An rc variant from boot/, run as the script itself."""

    def __init__(self, inst, name):
        self.inst = inst
        with open(os.path.join(SRC, "boot", name)) as f:
            self.script = f.read().replace("@HOME@", inst.home).replace("@LOGGER@", "")
        log = open(inst.logfile, "ab")
        self.proc = subprocess.Popen(["sh", "-c", self.script], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=make_env(), cwd="/")
        log.close()
        wait_for(lambda: "status: started" in inst.log() or self.proc.poll() is not None, 10,
                 f"{name} to start\n" + inst.log()[-2000:])
        assert self.proc.poll() is None, f"{name} exited at once:\n" + inst.log()[-2000:]

    def stop(self):
        """SIGTERM to the pid (the script execs start, which becomes send),
        then the whole process group. True when SIGTERM alone stopped it."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
            stopped = True
        except subprocess.TimeoutExpired:
            stopped = False
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        return stopped


class BootVariants(unittest.TestCase):
    """One instance a variant; one plain user, and for +df one with a
    .forward to an mbox file in his home."""

    @classmethod
    def tearDownClass(cls):
        remove_test_users()

    def boot(self, variant, tag, setup_user=None):
        inst = Instance()
        self.addCleanup(inst.cleanup)
        user = inst.add_user(f"v{tag}")
        self.addCleanup(forget_spool, user)
        if setup_user:
            setup_user(user)
        fwd = None
        if variant.endswith("+df"):
            fwd = inst.add_user(f"f{tag}")
            self.addCleanup(forget_spool, fwd)
            fwd.write(".forward", f"# keep it in a file\n{fwd.home}/df-box\n")
            if setup_user:
                setup_user(fwd)
        v = Variant(inst, variant)
        stopped = []
        self.addCleanup(lambda: stopped or v.stop())
        # The rc is the one the variant names: start runs as send, so the
        # pid we started is send's (no shell left in between).
        exe = os.readlink(f"/proc/{v.proc.pid}/exe")
        self.assertEqual(exe, os.path.join(inst.bin, "send"), "the rc execs start, which becomes send")
        p = inst.inject(["-f", f"sender@{inst.me}", user.address], f"Subject: boot {variant}\n\nbody of {variant}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        if fwd:
            p = inst.inject(["-f", f"sender@{inst.me}", fwd.address], f"Subject: df {variant}\n\nforwarded\n")
            self.assertEqual(p.returncode, 0, p.stderr)
        return inst, user, fwd, v, stopped

    def check_df(self, inst, fwd, where_it_would_be):
        box = os.path.join(fwd.home, "df-box")
        wait_for(lambda: os.path.exists(box) and b"forwarded\n" in open(box, "rb").read(), 20,
                 "the .forward's mbox\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        msgs = mbox_messages(box)
        self.assertEqual([m["Subject"] for m in msgs], [msgs[0]["Subject"]])
        self.assertTrue(msgs[0]["Subject"].startswith("df "))
        self.assertEqual(msgs[0]["Delivered-To"], fwd.address)
        self.assertFalse(where_it_would_be(fwd), "with a .forward the default delivery must not apply")

    def finish(self, inst, v, stopped):
        inst.wait_queue_empty()
        self.assertTrue(v.stop(), "SIGTERM to the rc's pid stops the system\n" + inst.log()[-2000:])
        stopped.append(True)

    # -- mbox in the home -------------------------------------------------------
    def check_mailbox(self, variant, tag):
        inst, user, fwd, v, stopped = self.boot(variant, tag)
        box = os.path.join(user.home, "Mailbox")
        wait_for(lambda: os.path.exists(box) and read_text(box).endswith(f"body of {variant}\n\n"), 20,
                 "~/Mailbox\n" + inst.log()[-2000:])
        msgs = mbox_messages(box)
        self.assertEqual([m["Subject"] for m in msgs], [f"boot {variant}"])
        self.assertRegex(read_text(box).split("\n")[0], UFLINE)
        self.assertTrue(msgs[0].get_from().startswith(f"sender@{inst.me} "), msgs[0].get_from())
        self.assertEqual(msgs[0]["Return-Path"], f"<sender@{inst.me}>")
        self.assertEqual(msgs[0]["Delivered-To"], user.address)
        self.assertEqual(os.stat(box).st_uid, user.uid)
        self.assertEqual(maildir_files(user.maildir), [])
        if fwd:
            self.check_df(inst, fwd, lambda u: os.path.exists(os.path.join(u.home, "Mailbox")))
        self.finish(inst, v, stopped)

    def test_home(self):
        self.check_mailbox("home", "home")

    def test_home_df(self):
        self.check_mailbox("home+df", "homedf")

    # -- Maildir ---------------------------------------------------------------
    def check_maildir(self, variant, tag):
        inst, user, fwd, v, stopped = self.boot(variant, tag)
        files = inst.wait_maildir(user.maildir)
        msg = read_message(files[0])
        self.assertEqual(msg["Subject"], f"boot {variant}")
        self.assertEqual(msg["Delivered-To"], user.address)
        self.assertEqual(msg["Return-Path"], f"<sender@{inst.me}>")
        if fwd:
            self.check_df(inst, fwd, lambda u: maildir_files(u.maildir))
        self.finish(inst, v, stopped)

    def test_maildir(self):
        self.check_maildir("maildir", "md")

    def test_maildir_df(self):
        self.check_maildir("maildir+df", "mddf")

    # -- procmail with the user's .procmailrc ------------------------------------
    def check_proc(self, variant, tag):
        def procmailrc(u):
            u.write(".procmailrc", "DEFAULT=$HOME/procmail-box\nLOGFILE=$HOME/procmail.log\n")
        inst, user, fwd, v, stopped = self.boot(variant, tag, procmailrc)
        box = os.path.join(user.home, "procmail-box")
        wait_for(lambda: os.path.exists(box) and f"body of {variant}" in read_text(box), 20,
                 "procmail's mbox\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        text = read_text(box)
        first = text.split("\n")[0]
        self.assertRegex(first, UFLINE)
        self.assertEqual(first.split()[1], f"sender@{inst.me}")
        msgs = mbox_messages(box)
        self.assertEqual([m["Subject"] for m in msgs], [f"boot {variant}"])
        self.assertEqual(msgs[0]["Return-Path"], f"<sender@{inst.me}>")
        self.assertEqual(msgs[0]["Delivered-To"], user.address)
        self.assertEqual(os.stat(box).st_uid, user.uid)
        self.assertEqual(maildir_files(user.maildir), [])
        if fwd:
            self.check_df(inst, fwd, lambda u: os.path.exists(os.path.join(u.home, "procmail-box")))
        self.finish(inst, v, stopped)

    def test_proc(self):
        self.check_proc("proc", "proc")

    def test_proc_df(self):
        self.check_proc("proc+df", "procdf")

    # -- /var/mail through procmail -d -------------------------------------------
    def check_binm1(self, variant, tag):
        inst, user, fwd, v, stopped = self.boot(variant, tag)
        spool = f"/var/mail/{user.name}"
        wait_for(lambda: os.path.exists(spool) and f"body of {variant}" in read_text(spool), 20,
                 f"{spool}\n" + inst.log()[-2000:] + "\nmailq:\n" + inst.mailq())
        inst.wait_queue_empty()
        text = read_text(spool)
        first = text.split("\n")[0]
        self.assertRegex(first, PROCMAIL_UFLINE)
        # procmail runs as the recipient here, so it may name either the
        # envelope sender or the user; Return-Path has the sender anyway.
        self.assertIn(first.split()[1], (f"sender@{inst.me}", user.name))
        header = text.split("\n\n", 1)[0].split("\n")[1:]
        self.assertEqual([l for l in header if not re.match(r"^([!-9;-~]+:|[ \t])", l)], [],
                         "every line of the header is a header field (no >From line from procmail)")
        msgs = mbox_messages(spool)
        self.assertEqual([m["Subject"] for m in msgs], [f"boot {variant}"])
        self.assertEqual(msgs[0]["Return-Path"], f"<sender@{inst.me}>")
        self.assertEqual(msgs[0]["Delivered-To"], user.address)
        self.assertEqual(os.stat(spool).st_uid, user.uid)
        self.assertIn(f"boot {variant}", mailx_headers(spool))
        if fwd:
            self.check_df(inst, fwd, lambda u: os.path.exists(f"/var/mail/{u.name}"))
        self.finish(inst, v, stopped)

    def test_binm1(self):
        self.check_binm1("binm1", "bm")

    def test_binm1_df(self):
        self.check_binm1("binm1+df", "bmdf")


class Programs(unittest.TestCase):
    """procmail, bsd-mailx: the real Debian programs against postern."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("alice")
        cls.pm = inst.add_user("pm")
        cls.mbox = inst.add_user("mbox")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        for u in (cls.alice, cls.pm, cls.mbox):
            forget_spool(u)
        remove_test_users()

    def test_preline_procmail_files_by_subject(self):
        inst, pm, alice = self.inst, self.pm, self.alice
        pm.mkdir("pm")
        pm.write(".procmailrc", "MAILDIR=$HOME/pm\nDEFAULT=$HOME/pm/default\nLOGFILE=$HOME/pm/log\n"
                                ":0:\n* ^Subject:.*invoice\ninvoices\n")
        pm.write(".qmail", "|preline procmail\n")
        for subject in ("invoice 42", "hello there"):
            p = inst.inject(["-f", alice.address, pm.address], f"Subject: {subject}\n\nbody: {subject}\n")
            self.assertEqual(p.returncode, 0, p.stderr)
        invoices, default = os.path.join(pm.home, "pm", "invoices"), os.path.join(pm.home, "pm", "default")
        wait_for(lambda: os.path.exists(invoices) and os.path.exists(default) and
                 "body: hello there" in read_text(default) and "body: invoice 42" in read_text(invoices), 20,
                 "procmail's two folders\n" + inst.log()[-2000:])
        inst.wait_queue_empty()
        for path, subject in ((invoices, "invoice 42"), (default, "hello there")):
            text = read_text(path)
            lines = text.split("\n")
            self.assertRegex(lines[0], UFLINE)
            self.assertEqual(lines[0].split()[1], alice.address, "preline's From_ line reached procmail")
            self.assertEqual(lines[1], f"Return-Path: <{alice.address}>")
            self.assertEqual(lines[2], f"Delivered-To: {pm.address}")
            msgs = mbox_messages(path)
            self.assertEqual([m["Subject"] for m in msgs], [subject])
            self.assertEqual(len(re.findall(r"(?m)^From ", text)), 1, "one From_ line, not two")
        self.assertEqual(maildir_files(pm.maildir), [])

    def test_bsd_mailx_sends_through_our_sendmail(self):
        inst, alice = self.inst, self.alice
        rc = alice.write(".mailrc-postern", f"set sendmail={inst.bin}/sendmail\n")
        env = {"HOME": alice.home, "PATH": "/usr/bin:/bin", "MAILRC": rc, "USER": alice.name,
               "LOGNAME": alice.name, "TERM": "dumb"}
        before = len(maildir_files(alice.maildir))
        p = run_as(alice, ["bsd-mailx", "-n", "-s", "nightly cron report", alice.name], env,
                   b"all backups done\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        files = inst.wait_maildir(alice.maildir, before + 1)
        inst.wait_queue_empty()
        msg = read_message(files[-1])
        self.assertEqual(msg["Subject"], "nightly cron report")
        self.assertEqual(msg.get_content(), "all backups done\n")
        self.assertEqual(msg["Return-Path"], f"<{alice.name}@{inst.me}>")
        self.assertEqual(msg["Delivered-To"], alice.address)

    def test_bsd_mailx_reads_the_mbox_local_writes(self):
        inst, u = self.inst, self.mbox
        u.write(".qmail", "./Mailbox\n")
        for i in (1, 2, 3):
            p = inst.inject(["-f", self.alice.address, u.address], f"Subject: mbox number {i}\n\nFrom the {i}\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            inst.wait_queue_empty()
        box = os.path.join(u.home, "Mailbox")
        out = mailx_headers(box)
        self.assertIn("3 messages", out)
        for i in (1, 2, 3):
            self.assertRegex(out, rf"(?m)^.{{0,4}}{i} .*mbox number {i}$")
        # And the bodies, as mailx shows them, keep the quoted From.
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "mbox")
            shutil.copy(box, copy)
            p = subprocess.run(["bsd-mailx", "-n", "-N", "-f", copy], input=b"p 2\nx\n", capture_output=True,
                               timeout=20, env={"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb"})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(">From the 2", p.stdout.decode(errors="replace"))


if __name__ == "__main__":
    unittest.main()
