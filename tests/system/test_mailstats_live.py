"""mailstats(8) on the log of a real instance, as an administrator runs it:
start's logger is multilog (`multilog t`, TAI64N labels), smtpd runs under
tcpserver with its log through a second multilog, as under daemontools.
The test sends mail that is delivered, deferred, bounced and rejected (over
SMTP with smtplib, and with sendmail), then runs mailstats on the two
multilog directories and checks what a reader checks: messages and bytes
in and out, the deliveries in the hour they happened, the top deferral and
bounce reasons, the rejected SMTP commands, and that --html renders. The
same log rewritten with syslog's, RFC 3339's and splogger's fallback
stamps (the other forms admins have) gives the same totals."""
import calendar
import html.parser
import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import time
import unittest

from smtp_helpers import daemon_ids
from harness import IS_ROOT, Instance, conf_user, free_port, make_env, port_listening, remove_test_users, wait_for


def tai64n_to_epoch(label):
    return int(label[1:17], 16) - (2 ** 62 + 10) + int(label[17:25], 16) / 1e9


class LiveLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.procs = []
        try:
            cls.setup_instance()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setup_instance(cls):
        inst = cls.inst
        cls.alice = inst.add_user("alice")
        cls.bob = inst.add_user("bob")
        cls.bob.write(".qmail-later", "|echo the filter database is busy; exit 111\n")
        cls.bob.write(".qmail-away", "|echo bob does not want this; exit 100\n")
        cls.logdir = os.path.join(inst.tmp, "log-send")
        cls.smtpd_logdir = os.path.join(inst.tmp, "log-smtpd")
        for d in (os.path.dirname(cls.logdir),):
            os.chmod(d, 0o755)
        # start runs the logger as the log user: its directory is that user's.
        os.mkdir(cls.logdir)
        if inst.multi:
            os.chown(cls.logdir, pwd.getpwnam(conf_user("log")).pw_uid, -1)
        cls.t0 = time.time()
        cls.procs.append(subprocess.Popen(
            [os.path.join(inst.bin, "start"), "./Maildir/", "multilog", "t", cls.logdir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(inst.tmp, "start.err"), "wb"),
            start_new_session=True, env=make_env(), cwd="/"))
        wait_for(lambda: "status: started" in cls.read(cls.logdir), 30,
                 "send to start (through multilog)\n" + open(os.path.join(inst.tmp, "start.err")).read()
                 + str(os.listdir(cls.logdir)) + cls.read(cls.logdir))
        cls.port = free_port()
        os.mkdir(cls.smtpd_logdir)
        cls.procs.append(subprocess.Popen(
            ["sh", "-c", 'exec /usr/bin/tcpserver -R -H -u "$4" -g "$5" 127.0.0.1 "$1" "$2" 2>&1 | exec multilog t "$3"',
             "sh", str(cls.port), os.path.join(inst.bin, "smtpd"), cls.smtpd_logdir, *map(str, daemon_ids(inst))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=make_env(), cwd="/"))
        wait_for(cls.listening, 20, f"tcpserver on {cls.port}")
        me = inst.me
        cls.sizes = []
        # Three messages over SMTP, delivered; one of them to two recipients.
        try:
            s = smtplib.SMTP("127.0.0.1", cls.port, timeout=60)
        except smtplib.SMTPException:
            raise AssertionError("smtpd: " + cls.read(cls.smtpd_logdir))
        with s:
            for i in range(3):
                rcpts = [cls.bob.address] + ([cls.alice.address] if i == 0 else [])
                body = f"From: alice@{me}\r\nSubject: live {i}\r\n\r\n" + "x" * (500 * (i + 1)) + "\r\n"
                s.sendmail(cls.alice.address, rcpts, body)
            # Rejected: recipients nobody has.
            s.mail(cls.alice.address)
            for n in range(2):
                code, _ = s.rcpt(f"nosuchuser{n}@{me}")
                assert code == 550, code
            s.rset()
        # Deferred and bounced, through the command line (smtpd only takes
        # the names newrcpt lists).
        for ext in ("later", "away"):
            p = inst.sendmail(["-f", cls.alice.address, f"{cls.bob.name}-{ext}@{me}"],
                              f"From: alice@{me}\nSubject: {ext}\n\nbody\n")
            assert p.returncode == 0, p.stderr
        # Delivered: 4 to bob and alice, then the bounce of "away" to alice.
        wait_for(lambda: cls.read(cls.logdir).count("status=sent") >= 5, 60,
                 "the deliveries\n" + cls.read(cls.logdir)[-3000:])
        wait_for(lambda: "status=deferred" in cls.read(cls.logdir), 60, "the deferral")
        cls.t1 = time.time()

    @classmethod
    def listening(cls):
        return port_listening(cls.port)

    @staticmethod
    def read(logdir):
        try:
            with open(os.path.join(logdir, "current"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        cls.inst.cleanup()
        remove_test_users()

    def mailstats(self, args=(), files=None):
        files = files or [os.path.join(self.logdir, "current"), os.path.join(self.smtpd_logdir, "current")]
        p = subprocess.run([os.path.join(self.inst.bin, "mailstats")] + list(args) + files, capture_output=True,
                           text=True, timeout=120, env=dict(make_env(), TZ="UTC"))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def section(self, report, title):
        """The lines of one section of the text report, after its underline."""
        lines = report.split("\n")
        at = next(i for i, l in enumerate(lines) if l.startswith(title))
        out = []
        for l in lines[at + 2:]:
            if not l.strip():
                break
            out.append(l)
        return out

    def row(self, report, title, label):
        """The numbers of the row of section title whose label is label."""
        for l in self.section(report, title):
            words = l.split()
            n = 0
            while n < len(words) and re.fullmatch(r"\d+(\.\d+)?|-", words[n]):
                n += 1
            if " ".join(words[n:]) == label:
                return words[:n]
        self.fail(f"no row {label!r} in {title}:\n" + "\n".join(self.section(report, title)))

    def queued_sizes(self):
        """size= of send's "new" lines, by queue id: what an admin greps."""
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"send: msg=(\S+) new .*? size=(\d+)", self.read(self.logdir))}

    def test_totals_match_what_happened(self):
        report = self.mailstats()
        sizes = self.queued_sizes()
        self.assertEqual(len(sizes), 6, "3 over SMTP, 2 by sendmail, 1 bounce")
        self.assertEqual(self.row(report, "Grand totals", "received"), ["6", str(sum(sizes.values()))])
        smtpd = [int(x) for x in re.findall(r"smtpd: msg=\S+ accepted .*? size=(\d+)", self.read(self.smtpd_logdir))]
        self.assertEqual(len(smtpd), 3)
        self.assertEqual(self.row(report, "Grand totals", "by smtpd"), ["3", str(sum(smtpd))])
        # Delivered: what the Maildirs hold (bob 3, alice 1 copy and the bounce).
        files = len(os.listdir(os.path.join(self.bob.maildir, "new"))) + \
            len(os.listdir(os.path.join(self.alice.maildir, "new")))
        self.assertEqual(files, 5)
        delivered = self.row(report, "Grand totals", "delivered")
        self.assertEqual(delivered[0], "5")
        self.assertEqual(self.row(report, "Grand totals", "locally")[0], "5")
        self.assertEqual(self.row(report, "Grand totals", "deferred (attempts)"), ["1"])
        self.assertEqual(self.row(report, "Grand totals", "bounced (recipients)"), ["1"])
        self.assertEqual(self.row(report, "Grand totals", "bounce messages sent"), ["1"])
        self.assertEqual(self.row(report, "Grand totals", "rejected (SMTP)"), ["2"])
        self.assertEqual(self.row(report, "Top 10 senders", f"<{self.alice.address}>")[0], "5")
        self.assertEqual(self.row(report, "Top 10 recipients", f"<{self.bob.address}>")[0], "3")
        self.assertEqual(self.row(report, "Top 10 client hosts", "127.0.0.1")[0], "3")
        self.assertEqual(self.row(report, "Top 10 rejected client hosts", "127.0.0.1")[0], "2")

    def test_reasons(self):
        report = self.mailstats()
        self.assertEqual(self.row(report, "Deliveries by reason", "delivered to ./Maildir/"), ["5"])
        self.assertEqual(self.row(report, "Deferrals by reason", "the filter database is busy (program exited N)"),
                         ["1"])
        self.assertEqual(self.row(report, "Bounces by reason", "bob does not want this (program exited N)"), ["1"])
        rejects = self.section(report, "SMTP rejects by reason")
        self.assertEqual(len(rejects), 2, rejects)
        self.assertRegex(rejects[1], r"^\s+2\s+no such user\b")

    def test_the_hour_and_the_day_it_happened(self):
        report = self.mailstats()
        # Every event happened between t0 and t1: the report's range says so.
        m = re.search(r"report, (\S+ \S+) to (\S+ \S+)", report)
        first, last = (calendar.timegm(time.strptime(x, "%Y-%m-%d %H:%M:%S")) for x in m.groups())
        self.assertTrue(int(self.t0) <= first <= last <= self.t1 + 1, (m.groups(), self.t0, self.t1))
        hours = {time.strftime("%H:00", time.gmtime(t)) for t in (self.t0, self.t1)}
        got = {"received": 0, "delivered": 0, "deferred": 0, "bounced": 0, "rejected": 0}
        for l in self.section(report, "Per-hour traffic")[1:]:
            w = l.split()
            n = dict(zip(["received", "bytes", "delivered", "dbytes", "deferred", "bounced", "rejected"], map(int, w)))
            if w[-1][:5] in hours:
                for k in got:
                    got[k] += n[k]
            else:
                self.assertEqual(set(n.values()), {0}, f"traffic in an hour nothing happened: {l}")
        self.assertEqual(got, {"received": 6, "delivered": 5, "deferred": 1, "bounced": 1, "rejected": 2})
        days = self.section(report, "Per-day traffic")[1:]
        self.assertEqual(len(days), len({time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (self.t0, self.t1)}))
        self.assertTrue(days[-1].endswith(time.strftime("%Y-%m-%d", time.gmtime(self.t1))), days)

    def rewrite(self, form):
        """Both logs as another logger would have written the same lines."""
        out = []
        for logdir in (self.logdir, self.smtpd_logdir):
            for line in self.read(logdir).splitlines():
                label, text = line.split(" ", 1)
                t = tai64n_to_epoch(label)
                prog = text.split(":", 1)[0]
                if form == "syslog":  # rsyslog's traditional file format, through splogger
                    out.append(time.strftime("%b %e %H:%M:%S", time.gmtime(t)) + " vm postern: " + text)
                elif form == "rfc3339":  # rsyslog's RFC 3339 template
                    out.append(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d+00:00 vm postern[42]: %s"
                               % (int(t % 1 * 1e6), text))
                elif form == "short-iso":  # journalctl -o short-iso, a tag per program
                    out.append(time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t)) + f" vm {prog}[42]:"
                               + text[len(prog) + 1:])
        path = os.path.join(self.inst.tmp, f"log.{form}")
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return path

    def splogger_fallback(self):
        """The lines through the real splogger where there is no /dev/log:
        its standard error, as a unit without rsyslog leaves it to journald."""
        lines = "".join(l.split(" ", 1)[1] + "\n" for d in (self.logdir, self.smtpd_logdir)
                        for l in self.read(d).splitlines())
        path = os.path.join(self.inst.tmp, "log.splogger")
        with open(path, "wb") as err:
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                'mount -t tmpfs tmpfs /dev && exec "$1" postern', "sh",
                                os.path.join(self.inst.bin, "splogger")],
                               input=lines.encode(), stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        self.assertEqual(p.returncode, 0)
        with open(path) as f:
            text = f.read()
        self.assertIn("cannot reach syslog", text)
        return path

    def test_other_timestamp_forms_give_the_same_report(self):
        multilog = self.mailstats()
        year = time.strftime("%Y", time.gmtime(self.t0))
        same = ["Grand totals", "Per-day traffic", "Per-hour traffic", "Delivery delays", "Top 10 senders",
                "Deferrals by reason", "Bounces by reason", "SMTP rejects by reason"]
        for form in ("syslog", "rfc3339", "short-iso"):
            report = self.mailstats(["--year", year], [self.rewrite(form)])
            for title in same:
                self.assertEqual(self.section(report, title), self.section(multilog, title), f"{form}: {title}")
            counted = re.search(r"\* \d+ lines read, (\d+) counted", report)
            self.assertEqual(counted.group(1), re.search(r"lines read, (\d+) counted", multilog).group(1), form)
        if IS_ROOT and shutil.which("unshare"):
            report = self.mailstats([], [self.splogger_fallback()])
            for title in ["Grand totals", "Top 10 senders", "Deferrals by reason", "Bounces by reason",
                          "SMTP rejects by reason"]:
                self.assertEqual(self.section(report, title), self.section(multilog, title), f"splogger: {title}")
            self.assertEqual(sum(int(l.split()[0]) for l in self.section(report, "Per-hour traffic")[1:]), 6)

    def test_html_renders(self):
        page = self.mailstats(["--html"])
        tags = []

        class P(html.parser.HTMLParser):
            def handle_starttag(self, tag, attrs):
                tags.append(tag)
        P().feed(page)
        self.assertIn("svg", tags)
        self.assertIn("table", tags)
        self.assertIn(self.alice.address, page)
        self.assertIn("the filter database is busy", page)


if __name__ == "__main__":
    unittest.main()
