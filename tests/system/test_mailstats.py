"""mailstats(8) as an administrator reads it: the test writes a day of
postern log lines with known traffic (in every timestamp form the logs come
in: syslog, ISO 8601 with and without a host, multilog's TAI64N, none),
runs the real program over it, plain and gzip'd, and checks that the text
report's numbers and the HTML page's (parsed with html.parser, with its SVG
charts) are exactly those of the traffic written; garbage and a 1 MB line
are skipped with a count, --since/--until/--top do what they say, and a
huge log of distinct senders stays within a bounded memory."""
import calendar
import gzip
import html.parser
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import unittest
from collections import Counter

from harness import SRC

with open(os.path.join(SRC, "conf-home")) as _f:
    _HOME = _f.readline().strip()
BIN = os.path.join(SRC, "build", "inst", _HOME.replace("/", "_"), "mailstats")
DAY = calendar.timegm((2026, 11, 30, 0, 0, 0))


def stamp(t, form, line):
    """line ("send: ..." or "smtpd: ...") as a log of form writes it at time t."""
    if form == "none":
        return line
    prog, rest = line.split(": ", 1)
    if form == "syslog":
        return time.strftime("%b %e %H:%M:%S", time.gmtime(t)) + " vm postern: " + line
    if form == "syslog-tag":
        return time.strftime("%b %e %H:%M:%S", time.gmtime(t)) + f" vm postern/{prog}[123]: {rest}"
    if form == "iso-host":
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".123456+00:00 vm postern: " + line
    if form == "iso":  # splogger's fallback on stderr
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".5+00:00 postern: " + line
    if form == "tai64n":
        return "@%016x%08x %s" % (int(t) + 2 ** 62 + 10, 0, line)
    raise ValueError(form)


FORMS = ["syslog", "iso-host", "iso", "tai64n", "syslog-tag"]


def nearest_rank(values, p):
    v = sorted(values)
    import math
    return v[max(1, math.ceil(p / 100 * len(v))) - 1]


def secs(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


class Day:
    """A day of traffic: the log lines and what a report of them must say."""

    def __init__(self):
        self.events = []  # (time, line)
        self.e = Counter()
        self.hour = {h: Counter() for h in range(24)}
        self.local_delays, self.remote_delays = [], []
        self.other = 0
        inode = 100
        for i in range(20):  # received over SMTP
            t0 = DAY + (8 + i % 10) * 3600 + i * 60
            mid, inode = f"{int(t0)}.{i:06d}.{inode}", inode + 1
            size = 1000 + i
            sender = "<alice@a.example>" if i < 12 else "<bob@b.example>" if i < 18 else "<carol@c.example>"
            self.add(t0, f"smtpd: msg={mid} accepted client=192.0.2.{1 + i % 3} helo=h{i}.example from={sender} "
                         f"size={size} nrcpt=1 message-id=<{i}@a.example> tls=TLSv1.3 auth=-")
            self.e["accepted"] += 1
            self.e["accepted_bytes"] += size
            self.queue(t0 + 0.5, mid, sender, size)
            self.add(t0 + 0.6, f"remote: connecting to something for msg={mid}", other=True)
            if i < 10:
                self.sent(t0 + 1 + i, mid, f"<u{i % 5}@here.test>", "local", i + 1, size, "did 0+0+1")
            elif i < 15:
                d = 2 * (i - 9)
                self.sent(t0 + d, mid, f"<r{i}@dest{i % 2}.example>", "remote", d, size,
                          f"250 2.0.0 Ok: queued as A{i}F{i}QZ9")
            elif i < 18:
                self.add(t0 + 1, f"send: msg={mid} to=<x{i}@slow.example> channel=remote relay=mx.slow.example"
                                 f"[198.51.100.7]:25 delay=1 delays=0.5/0.5 dsn=4.4.2 status=deferred "
                                 f'reason="421 4.4.2 mx.slow.example timed out after {30 + i} seconds (id {i}f3a)"')
                self.e["deferred"] += 1
                self.hour[self.h(t0 + 1)]["deferred"] += 1
                self.sent(t0 + 3600 + (i - 14), mid, f"<x{i}@slow.example>", "remote", 3600 + (i - 14), size,
                          "250 ok")
            else:
                self.add(t0 + 2, f"send: msg={mid} to=<nobody{i}@dest0.example> channel=remote relay=mx.dest0."
                                 f"example[198.51.100.9]:25 delay=2 delays=1/1 dsn=5.1.1 status=bounced "
                                 f'reason="550 5.1.1 <nobody{i}@dest0.example>: user unknown"')
                self.e["bounced"] += 1
                self.hour[self.h(t0 + 2)]["bounced"] += 1
                bid, inode = f"{int(t0 + 3)}.000000.{inode}", inode + 1
                self.add(t0 + 3, f"send: msg={mid} bounce={bid}")
                self.e["bounce_msgs"] += 1
                self.queue(t0 + 3, bid, "<>", 2000)
                self.sent(t0 + 3.5, bid, "<postmaster@here.test>", "local", 0.5, 2000, "did 1+0+0")
                self.add(t0 + 4, f"send: msg={bid} end")
            self.add(t0 + 3700, f"send: msg={mid} end")
        for j in range(5):  # injected by sendmail
            t0 = DAY + 20 * 3600 + j * 60
            mid, inode = f"{int(t0)}.{j:06d}.{inode}", inode + 1
            self.queue(t0, mid, "<root@here.test>", 500)
            self.sent(t0 + 0.25, mid, "<u0@here.test>", "local", 0.25, 500, "did 0+0+1")
            self.add(t0 + 1, f"send: msg={mid} end")
        for k, (who, reason) in enumerate([
                ("<a1@here.test>", "sorry, no mailbox here by that name (#5.1.1)"),
                ("<a2@here.test>", "sorry, no mailbox here by that name (#5.1.1)"),
                ("<a3@here.test>", "sorry, no mailbox here by that name (#5.1.1)"),
                ("<b@elsewhere.example>", "relaying denied: <b@elsewhere.example>")]):
            t = DAY + 9 * 3600 + 1800 + k
            self.add(t, f"smtpd: reject client=203.0.113.5 helo=spam from=<s@spam.example> to={who} code=550 "
                        f'dsn=5.1.1 reason="{reason}"')
            self.e["rejected"] += 1
            self.hour[9]["rejected"] += 1
        self.add(None, 'smtpd: reject client=203.0.113.6 to=<c@other.example> code=553 reason="relaying denied: '
                       '<c@other.example>"')
        self.e["rejected"] += 1

    @staticmethod
    def h(t):
        return int((t - DAY) // 3600)

    def add(self, t, line, other=False):
        self.events.append((t, line))
        self.other += other

    def queue(self, t, mid, sender, size):
        self.add(t, f"send: msg={mid} new from={sender} size={size} nrcpt=1")
        self.e["received"] += 1
        self.e["received_bytes"] += size
        self.hour[self.h(t)]["in"] += 1
        self.hour[self.h(t)]["in_bytes"] += size

    def sent(self, t, mid, rcpt, channel, delay, size, reason):
        relay = "local" if channel == "local" else "mx.example[192.0.2.50]:25"
        self.add(t, f"send: msg={mid} to={rcpt} channel={channel} relay={relay} delay={delay} delays=0/{delay} "
                    f'dsn=2.0.0 status=sent reason="{reason}"')
        self.e["delivered"] += 1
        self.e["delivered_bytes"] += size
        self.e[channel] += 1
        self.e[channel + "_bytes"] += size
        (self.local_delays if channel == "local" else self.remote_delays).append(delay)
        self.hour[self.h(t)]["out"] += 1
        self.hour[self.h(t)]["out_bytes"] += size

    def lines(self):
        """The log in time order (the untimed line last), stamped in turn in each form."""
        ordered = sorted(self.events, key=lambda e: (e[0] is None, e[0] or 0))
        return [stamp(t, "none" if t is None else FORMS[n % len(FORMS)], line)
                for n, (t, line) in enumerate(ordered)]


def sections(text):
    """{title: [(numbers, label)]} of the text report: the header's last word
    starts the label column, the numbers are right-aligned before it."""
    out, title, label_col, lines = {}, None, None, text.splitlines()
    for n, line in enumerate(lines):
        if n + 1 < len(lines) and lines[n + 1] and set(lines[n + 1]) == {"-"} and len(lines[n + 1]) == len(line):
            title, label_col = line, None
            out[title] = []
        elif title and line and not set(line) <= {"-"} and line != "(none)":
            if label_col is None:
                label_col = line.rfind(" ") + 1
            out[title].append((line[:label_col].split(), line[label_col:].strip()))
    return out


def row(sec, label):
    found = [nums for nums, lab in sec if lab == label]
    assert len(found) == 1, f"{label!r} in {sec}"
    return found[0]


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.tables, self.h2, self.cell, self.texts = Counter(), {}, None, None, []
        self.in_h2 = False
        self.attrs = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs += attrs
        if tag == "h2":
            self.in_h2, self.h2 = True, ""
        elif tag == "tr" and self.h2 is not None:
            self.tables.setdefault(self.h2, []).append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_h2 = False
        elif tag in ("td", "th") and self.cell is not None:
            self.tables[self.h2][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.in_h2:
            self.h2 += data
        elif self.cell is not None:
            self.cell += data
        self.texts.append(data)


class Mailstats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = subprocess.run(["make", "--no-print-directory", BIN], cwd=SRC, capture_output=True, text=True,
                           timeout=3600)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.day = Day()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-mailstats-")
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, lines, opener=open):
        path = os.path.join(self.dir, name)
        with opener(path, "wt") as f:
            f.write("".join(line + "\n" for line in lines))
        return path

    def run_stats(self, *args, stdin=None, code=0):
        p = subprocess.run([BIN, "--year", "2026", *args], capture_output=True, text=True, timeout=300,
                           env={"PATH": "/usr/bin:/bin", "TZ": "UTC"}, input=stdin)
        self.assertEqual(p.returncode, code, p.stderr)
        return p

    def check_text(self, text, extra_other=0, too_long=0, malformed=0):
        d, e = self.day, self.day.e
        s = sections(text)
        g = s["Grand totals"]
        self.assertEqual(row(g, "received"), [str(e["received"]), str(e["received_bytes"])])
        self.assertEqual(e["received"], 20 + 5 + 2)
        self.assertEqual(row(g, "by smtpd"), [str(e["accepted"]), str(e["accepted_bytes"])])
        self.assertEqual(row(g, "injected here (sendmail, inject, bounces)"), ["7"])
        self.assertEqual(row(g, "delivered"), [str(e["delivered"]), str(e["delivered_bytes"])])
        self.assertEqual(e["delivered"], 10 + 5 + 3 + 2 + 5)
        self.assertEqual(row(g, "locally"), [str(e["local"]), str(e["local_bytes"])])
        self.assertEqual(row(g, "remotely"), [str(e["remote"]), str(e["remote_bytes"])])
        self.assertEqual(row(g, "deferred (attempts)"), ["3"])
        self.assertEqual(row(g, "messages deferred"), ["3"])
        self.assertEqual(row(g, "bounced (recipients)"), ["2"])
        self.assertEqual(row(g, "bounce messages sent"), ["2"])
        self.assertEqual(row(g, "rejected (SMTP)"), ["5"])
        self.assertEqual(row(g, "senders"), ["5"])
        self.assertEqual(row(s["Per-day traffic"], "2026-11-30"),
                         [str(e["received"]), str(e["received_bytes"]), str(e["delivered"]),
                          str(e["delivered_bytes"]), "3", "2", "4"])
        hours = s["Per-hour traffic (hour of day, all days)"]
        for h in range(24):
            c = d.hour[h]
            self.assertEqual(row(hours, "%02d:00-%02d:00" % (h, (h + 1) % 24)),
                             [str(c[k]) for k in ("in", "in_bytes", "out", "out_bytes", "deferred", "bounced",
                                                  "rejected")], f"hour {h}")
        delays = s["Delivery delays (seconds, from queueing to delivery)"]
        for label, values in (("local", d.local_delays), ("remote", d.remote_delays),
                              ("all", d.local_delays + d.remote_delays)):
            self.assertEqual(row(delays, label), [str(len(values))] + [
                secs(nearest_rank(values, p)) for p in (50, 90, 99)] + [secs(max(values))], label)
        self.assertEqual(row(delays, "remote"), ["8", "8", "3603", "3603", "3603"])
        self.assertEqual(row(delays, "local"), ["17", "2", "9", "10", "10"])
        self.assertEqual(s["Top 10 senders"][1:],
                         [(["12", str(sum(1000 + i for i in range(12)))], "<alice@a.example>"),
                          (["6", str(sum(1000 + i for i in range(12, 18)))], "<bob@b.example>"),
                          (["5", "2500"], "<root@here.test>"), (["2", "4000"], "<>"),
                          (["2", "2037"], "<carol@c.example>")])
        self.assertEqual(s["Top 10 remote domains by deliveries"][1:],
                         [(["3", "3036"], "dest0.example"), (["3", "3048"], "slow.example"),
                          (["2", "2024"], "dest1.example")])
        self.assertEqual(s["Top 10 remote domains by bytes"][1][1], "slow.example")
        self.assertEqual(s["Top 10 remote domains deferred"][1:], [(["3"], "slow.example")])
        self.assertEqual(s["Top 10 client hosts"][1:],
                         [(["7", str(sum(1000 + i for i in range(0, 20, 3)))], "192.0.2.1"),
                          (["7", str(sum(1000 + i for i in range(1, 20, 3)))], "192.0.2.2"),
                          (["6", str(sum(1000 + i for i in range(2, 20, 3)))], "192.0.2.3")])
        self.assertEqual(s["Top 10 recipients"][1], (["7", "4505"], "<u0@here.test>"))
        self.assertEqual(s["Deferrals by reason"][1:],
                         [(["3"], "421 4.4.2 mx.slow.example timed out after N seconds (id N)")])
        self.assertEqual(s["Bounces by reason"][1:], [(["2"], "550 5.1.1 <ADDR>: user unknown")])
        self.assertEqual(s["SMTP rejects by reason"][1:],
                         [(["3"], "sorry, no mailbox here by that name (#5.1.1)"),
                          (["2"], "relaying denied: <ADDR>")])
        self.assertEqual(s["Deliveries by reason"][1:],
                         [(["17"], "did N+N+N"), (["5"], "250 2.0.0 Ok: queued as N"), (["3"], "250 ok")])
        self.assertIn(f"* {len(d.events) + extra_other + too_long + malformed} lines read, {len(d.events) - d.other} counted",
                      text)
        self.assertIn(f"* {d.other + extra_other} other lines ignored", text)
        self.assertIn("* 1 lines without a timestamp: counted in the totals, not in the per-day", text)
        if too_long:
            self.assertIn(f"* {too_long} lines longer than 64 KB skipped", text)

    def test_text_report_numbers_are_exact(self):
        log = self.write("current", self.day.lines())
        self.check_text(self.run_stats(log).stdout)

    def test_html_report_has_charts_and_the_same_numbers(self):
        log = self.write("current", self.day.lines())
        page = self.run_stats("--html", log).stdout
        p = Page()
        p.feed(page)
        p.close()
        self.assertEqual(p.tags["svg"], 2)
        self.assertEqual(p.tags["script"], 0)
        self.assertFalse([a for a in p.attrs if a[0] in ("src", "href")], "the page must need no other file")
        self.assertGreater(p.tags["rect"], 10)
        self.assertEqual(p.tags["polyline"], 3)
        e = self.day.e
        totals = {r[0].strip(): r[1:] for r in p.tables["Grand totals"][1:]}
        self.assertEqual(totals["received"], [str(e["received"]), str(e["received_bytes"])])
        self.assertEqual(totals["delivered"], [str(e["delivered"]), str(e["delivered_bytes"])])
        self.assertEqual(totals["deferred (attempts)"], ["3", ""])
        self.assertEqual(totals["bounced (recipients)"], ["2", ""])
        self.assertEqual(totals["rejected (SMTP)"], ["5", ""])
        delays = {r[0]: r[1:] for r in p.tables["Delivery delays (seconds, from queueing to delivery)"][1:]}
        self.assertEqual(delays["remote"], ["8", "8", "3603", "3603", "3603"])
        self.assertIn("<alice@a.example>", [r[0] for r in p.tables["Top 10 senders"]])
        # The bars: an hour a pair, from the first event's hour to the last's;
        # each bar's title says its count, the same as the per-hour table.
        titles = [t for t in p.texts if re.fullmatch(r"\d\d-\d\d \d\d:00: \d+ (in|out)", t)]
        ins = Counter()
        for t in titles:
            m = re.fullmatch(r"\d\d-\d\d (\d\d):00: (\d+) (in|out)", t)
            ins[(int(m.group(1)), m.group(3))] += int(m.group(2))
        for h in range(24):
            self.assertEqual(ins[(h, "in")], self.day.hour[h]["in"], h)
            self.assertEqual(ins[(h, "out")], self.day.hour[h]["out"], h)

    def test_gzip_input_and_several_files_and_stdin(self):
        lines = self.day.lines()
        half = len(lines) // 2
        first = self.write("current.1", lines[:half])
        second = self.write("current.2.gz", lines[half:], opener=gzip.open)
        self.check_text(self.run_stats(first, second).stdout)
        self.check_text(self.run_stats(self.write("all.gz", lines, opener=gzip.open)).stdout)
        self.check_text(self.run_stats(stdin="".join(line + "\n" for line in lines)).stdout)

    def test_garbage_and_a_huge_line_are_skipped_with_a_count(self):
        lines = self.day.lines()
        lines.insert(10, "\x00\x01garbage \xff\xfe send: msg=\"")
        lines.insert(20, "Nov 30 12:00:00 vm postern: send: msg=1 to=<a@b> status=sent reason=\"" + "x" * (1 << 20))
        lines.insert(30, 'send: msg=2 to=<a@b> status=lost reason="no such status"')
        log = self.write("current", lines)
        text = self.run_stats(log).stdout
        self.check_text(text, extra_other=1, too_long=1, malformed=1)
        self.assertIn("* 1 malformed lines skipped", text)

    def test_a_broken_gzip_file_is_reported_and_the_rest_counted(self):
        whole = self.write("all.gz", self.day.lines(), opener=gzip.open)
        with open(whole, "rb") as f:
            data = f.read()
        with open(whole, "wb") as f:
            f.write(data[: len(data) // 2])
        missing = os.path.join(self.dir, "nothing-here")
        p = self.run_stats(whole, missing, code=111)
        self.assertIn("all.gz: broken compressed data", p.stderr)
        self.assertIn("unable to open " + missing, p.stderr)
        self.assertIn("Grand totals", p.stdout)

    def test_since_until_and_top(self):
        lines = []
        for day, n in ((29, 2), (30, 3), (31 - 30, 4)):  # 29 Nov, 30 Nov, 1 Dec
            month = 11 if day >= 29 else 12
            for i in range(n):
                t = calendar.timegm((2026, month, day, 12, i, 0))
                lines.append(stamp(t, "iso-host", f"send: msg={t}.0.{i} new from=<s{i}@x.example> size=10 nrcpt=1"))
        log = self.write("current", lines)

        def received(*args):
            return row(sections(self.run_stats(*args, log).stdout)["Grand totals"], "received")[0]
        self.assertEqual(received(), "9")
        self.assertEqual(received("--since", "2026-11-30"), "7")
        self.assertEqual(received("--until", "2026-11-30"), "5")
        self.assertEqual(received("--since", "2026-11-30", "--until", "2026-11-30"), "3")
        self.assertEqual(received("--since", "2026-11-30T12:01"), "6")
        top = sections(self.run_stats("--top", "2", log).stdout)["Top 2 senders"]
        self.assertEqual(top[1:], [(["3", "30"], "<s0@x.example>"), (["3", "30"], "<s1@x.example>")])
        for bad in (["--since", "yesterday"], ["--top", "0"], ["--frobnicate"]):
            p = self.run_stats(*bad, log, code=100)
            self.assertIn("usage: mailstats", p.stderr)

    def test_memory_stays_bounded_on_a_log_of_distinct_keys(self):
        n = 150000
        path = os.path.join(self.dir, "big")
        with open(path, "w") as f:
            for i in range(n):
                f.write(f"send: msg={i}.0.{i} new from=<sender{i}@d{i}.example> size=100 nrcpt=1\n"
                        f"send: msg={i}.0.{i} to=<rcpt{i}@r{i}.example> channel=remote relay=x delay=1.{i % 97} "
                        f"delays=0/1 dsn=2.0.0 status=sent reason=\"250 ok {i}\"\n")
        text = self.run_stats(path).stdout
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertIn("the senders table was truncated at 100000 keys: 50000 more lines were not counted in it",
                      text)
        self.assertIn("50000 messages not followed", text)
        self.assertEqual(row(sections(text)["Grand totals"], "received"), [str(n), str(100 * n)])
        self.assertEqual(row(sections(text)["Grand totals"], "delivered"), [str(n), str(100 * 100000)])
        self.assertLess(rss, 400 * 1024, "max RSS in KB")


if __name__ == "__main__":
    unittest.main()
