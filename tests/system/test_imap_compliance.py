"""The IMAP compliance suite: every scenario in tests/system/imap_scripts
(what Dovecot's imaptest scripted tests cover, written from the RFCs) runs
against a real Dovecot 2.3 and against postern's imapd under tcpserver,
each on a freshly emptied Maildir of its own real test user. A scenario
Dovecot fails is skipped for postern, with Dovecot's difference as the
reason; one Dovecot passes and postern fails is a failure.

One Dovecot and one postern serve every scenario. COMPLIANCE_ONLY=a,b
runs only the scenarios whose names contain one of those words.
Trusts: the scenario files and Dovecot as the reference. Returns: one
unittest result per scenario (pass, fail with the first difference and
the end of imapd's log, or skip when Dovecot fails it)."""
import os
import re
import shutil
import threading
import time
import unittest

from dovecot_peer import available
from imap_raw import ImapTestCase
from imap_scenario import run, scenarios

PASSWORD = "Compliance-pw1"


def user_processes(uid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                m = re.search(r"^Uid:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m and int(m.group(1)) == uid:
            pids.append(d)
    return pids


def wiper(user):
    """Empties user's Maildir once no process of theirs (the last
    scenario's mailbox stage) can still write into it."""
    def wipe():
        deadline = time.time() + 10
        while user_processes(user.uid) and time.time() < deadline:
            time.sleep(0.02)
        shutil.rmtree(user.maildir, ignore_errors=True)
        user.make_maildir()
    return wipe


# Scenarios Dovecot passes that test what postern does not offer yet (its
# CAPABILITY does not name them). Each is reported skipped, never passed,
# and fails as soon as postern passes it, so the entry must then go.
NOT_BUILT = {
}


@unittest.skipUnless(available(), "Dovecot is not installed (make deps installs it)")
class Compliance(ImapTestCase):
    USER = "cpost"
    PASSWORD = PASSWORD
    START = False
    DOVE_USER = "cdove"

    def check(self, scenario):
        # Both servers at once, each on its own user: half the wall time.
        theirs = []
        peer = threading.Thread(target=lambda: theirs.append(
            run(scenario, self.dovecot.port, self.dove_user.name, PASSWORD, wiper(self.dove_user))))
        peer.start()
        ours = run(scenario, self.server.port, self.user.name, PASSWORD, wiper(self.user))
        peer.join(300)
        self.assertFalse(peer.is_alive(), "the scenario against Dovecot did not end")
        theirs = theirs[0]
        if theirs:
            self.skipTest(f"Dovecot fails it too: {theirs.splitlines()[0]} ... {theirs.splitlines()[-1]}")
        if scenario.name in NOT_BUILT:
            self.assertTrue(ours, f"{scenario.name} passes now: take it out of NOT_BUILT")
            self.skipTest(NOT_BUILT[scenario.name])
        if ours:
            log = self.server.log()[-1500:]
            self.fail(f"{scenario.name}: {scenario.about}\n{ours}\nimapd log (end):\n{log}")


def _add(s):
    only = [w for w in os.environ.get("COMPLIANCE_ONLY", "").split(",") if w]
    if only and not any(w in s.name for w in only):
        return
    setattr(Compliance, "test_" + s.name.replace("-", "_"), lambda self: self.check(s))


for _s in scenarios():
    _add(_s)
