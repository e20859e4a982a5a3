"""splogger without syslog: a real splogger in a mount namespace whose /dev
is an empty tmpfs (no /dev/log, as on a Debian 12 without rsyslog or in a
container) says once on stderr that it cannot reach syslog, then writes
every line there with an ISO 8601 time stamp; when a syslog socket appears
at /dev/log it goes back to it, and says so. Needs root (unshare -m)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import IS_ROOT, ServerTestCase, Instance

# Runs inside the namespace: argv[1] splogger, argv[2] where to write the
# findings (JSON). Every wait is bounded; splogger is stopped at the end.
INSIDE = r'''
import json, os, socket, subprocess, sys, time
splogger, out = sys.argv[1], sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/dev"], check=True)
err_path = out + ".stderr"
err = open(err_path, "wb")
p = subprocess.Popen([splogger, "postern-test"], stdin=subprocess.PIPE, stderr=err, stdout=err)
found = {}
def stderr_text():
    with open(err_path, errors="replace") as f:
        return f.read()
def wait(pred, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False
try:
    p.stdin.write(b"send: msg=A1 new from=<a@example.org> size=10 nrcpt=1\nsecond line\n")
    p.stdin.flush()
    found["fallback"] = wait(lambda: "second line" in stderr_text())
    found["stderr_before"] = stderr_text()
    # syslog comes back: a datagram socket at /dev/log.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("/dev/log")
    s.settimeout(1)
    time.sleep(1.2)  # splogger tries again at most once a second
    got = []
    def line_in_syslog():
        p.stdin.write(b"third line\n")
        p.stdin.flush()
        try:
            while True:
                got.append(s.recv(4096).decode(errors="replace"))
        except socket.timeout:
            pass
        return any("third line" in g for g in got)
    found["back"] = wait(line_in_syslog)
    found["datagrams"] = got
    found["stderr_after"] = stderr_text()
    # and goes away again
    s.close()
    os.unlink("/dev/log")
    p.stdin.write(b"fourth line\n")
    p.stdin.flush()
    found["fallback_again"] = wait(lambda: "fourth line" in stderr_text())
    found["stderr_end"] = stderr_text()
    p.stdin.close()
    found["exit"] = p.wait(timeout=20)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
with open(out, "w") as f:
    json.dump(found, f)
'''

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d"


@unittest.skipUnless(IS_ROOT and shutil.which("unshare"), "needs root and unshare(1) for a mount namespace")
class SploggerFallback(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=False)

    def run_inside(self):
        tmp = tempfile.mkdtemp(prefix="postern-splogger-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        script = os.path.join(tmp, "inside.py")
        with open(script, "w") as f:
            f.write(INSIDE)
        out = os.path.join(tmp, "found.json")
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, script,
                            os.path.join(self.inst.bin, "splogger"), out],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out) as f:
            return json.load(f)

    def test_falls_back_to_stderr_and_returns_to_syslog(self):
        found = self.run_inside()
        before = found["stderr_before"].splitlines()
        self.assertTrue(found["fallback"], found)
        # Said once, then each line with its time stamp and tag.
        self.assertRegex(before[0], rf"^{STAMP} splogger: cannot reach syslog at /dev/log \(.+\); writing log "
                                    r"lines to standard error until it is back$")
        self.assertRegex(before[1], rf"^{STAMP} postern-test: send: msg=A1 new from=<a@example\.org> size=10 nrcpt=1$")
        self.assertRegex(before[2], rf"^{STAMP} postern-test: second line$")
        self.assertEqual(len(before), 3, before)
        # Back to syslog: the line arrives there at mail.info (<22>) with
        # its tag, and stderr says it went back, without the line itself.
        self.assertTrue(found["back"], found)
        third = [d for d in found["datagrams"] if "third line" in d]
        self.assertRegex(third[0], r"^<22>\w{3} [ \d]\d \d\d:\d\d:\d\d postern-test: third line$")
        self.assertTrue(any("line(s) went to standard error while syslog was unreachable" in d
                            for d in found["datagrams"]), found["datagrams"])
        after = found["stderr_after"]
        self.assertRegex(after, rf"{STAMP} splogger: syslog at /dev/log is back; log lines go there again")
        self.assertNotIn("third line", after)
        # Gone again: said again, and the line is kept on stderr.
        self.assertTrue(found["fallback_again"], found)
        end = found["stderr_end"]
        self.assertEqual(len(re.findall("cannot reach syslog", end)), 2, end)
        self.assertRegex(end, rf"{STAMP} postern-test: fourth line\n")
        self.assertEqual(found["exit"], 0)


if __name__ == "__main__":
    unittest.main()
