"""imaptest-style stress: 10 clients on one folder for a bounded time doing
random SELECT, FETCH, STORE, EXPUNGE, APPEND, COPY, SEARCH, NOOP and IDLE,
every response checked by imap_checker's state tracking (EXISTS never
shrinking without EXPUNGE, EXPUNGE and FETCH of existing messages, fixed
and rising UIDs), no BAD to a valid command, no lost flag update (each
client owns a keyword and at the end the folder must hold each keyword
exactly where its owner last put it), and flags one client sets reported
to every other on its next NOOP. Run against postern's imapd under
tcpserver and, as a check of the checker, against a real Dovecot.

STRESS_SECONDS (default 12) bounds the random phase for each server.
Trusts: nothing the servers send (imap_checker bounds every read).
Returns: one test result per server; a failure lists the seed
(STRESS_SEED=... repeats the run's choices) and every error found."""
import os
import random
import re
import threading
import time
import unittest

from imap_checker import Conn, ImapError
from imap_raw import ImapTestCase, is_ok

PASSWORD = "Stress-pw1"
CLIENTS = 10
SECONDS = float(os.environ.get("STRESS_SECONDS", "12"))
SEED = int(os.environ.get("STRESS_SEED", str(int(time.time()))))


def message(n):
    return (f"From: stress{n}@example.org\r\nSubject: stress {n}\r\n"
            f"Message-ID: <{n}.{random.random()}@stress>\r\n\r\nbody {n}\r\n" + "x" * (n % 200) + "\r\n").encode()


class Client(threading.Thread):
    def __init__(self, k, port, user, deadline, rng):
        super().__init__(daemon=True)
        self.k, self.port, self.user, self.deadline, self.rng = k, port, user, deadline, rng
        self.kw = f"client{k}"
        self.expected = {}   # uid -> whether our keyword should be on it
        self.errors = []
        self.ops = 0
        self.conn = None

    def fail(self, text):
        self.errors.append(f"client {self.k}: {text}")

    def cmd(self, text, literals=(), allow_no=True):
        untagged, tagged = self.conn.command(text, literals, timeout=60)
        if re.match(r"\S+ BAD\b", tagged, re.I) or (not allow_no and not is_ok(tagged)):
            self.fail(f"{text!r} answered {tagged!r}")
        for line in untagged:
            if re.match(r"\* BAD\b", line, re.I):
                self.fail(f"{text!r} brought {line!r}")
        return untagged, tagged

    def known_uid(self):
        uids = [u for u in self.conn.track.uids if u is not None]
        return self.rng.choice(uids) if uids else None

    def step(self):
        c, rng = self.conn, self.rng
        n = c.track.count
        r = rng.random()
        if n == 0 or r < 0.12:
            self.cmd("APPEND INBOX \0", [message(rng.randrange(100000))], allow_no=False)
        elif r < 0.30:
            a = rng.randrange(1, n + 1)
            self.cmd(f"FETCH {a}:{min(n, a + rng.randrange(5))} (UID FLAGS)")
        elif r < 0.45:
            uid = self.known_uid()
            if uid is None:
                self.cmd(f"FETCH 1:{n} UID")
                return
            add = rng.random() < 0.6
            untagged, tagged = self.cmd(f"UID STORE {uid} {'+' if add else '-'}FLAGS ({self.kw})")
            if is_ok(tagged):
                self.expected[uid] = add
        elif r < 0.52:
            seq = rng.randrange(1, n + 1)
            self.cmd(f"STORE {seq} {'+' if rng.random() < 0.5 else '-'}FLAGS (\\Seen)")
        elif r < 0.57:
            seq = rng.randrange(1, n + 1)
            self.cmd(f"STORE {seq} +FLAGS.SILENT (\\Deleted)")
        elif r < 0.61:
            self.cmd("EXPUNGE")
        elif r < 0.66:
            seq = rng.randrange(1, n + 1)
            self.cmd(f"COPY {seq} INBOX")
        elif r < 0.75:
            self.cmd(rng.choice(["SEARCH ALL", "SEARCH UNSEEN", f"SEARCH KEYWORD {self.kw}",
                                 "UID SEARCH DELETED", "SEARCH 1:* NOT SEEN"]))
        elif r < 0.88:
            self.cmd("NOOP")
        elif r < 0.94:
            tag = c.next_tag()
            c.send(f"{tag} IDLE\r\n")
            while True:
                line = c.read_line(timeout=60)
                if line.startswith("+"):
                    break
                if line.startswith(tag + " "):
                    self.fail(f"IDLE answered {line!r}")
                    return
            end = time.time() + rng.uniform(0.05, 0.4)
            while time.time() < end:
                try:
                    c.read_line(timeout=end - time.time())
                except ImapError:
                    break  # nothing came in time: the usual case
            c.send("DONE\r\n")
            _, tagged = c.finish(tag, timeout=60)
            if not is_ok(tagged):
                self.fail(f"IDLE ended with {tagged!r}")
        else:
            c.select("INBOX")

    def run(self):
        try:
            self.conn = Conn(self.port, f"c{self.k}", timeout=60)
            self.cmd(f"LOGIN {self.user} {PASSWORD}", allow_no=False)
            self.conn.select("INBOX")
            while time.time() < self.deadline:
                self.step()
                self.ops += 1
        except ImapError as e:
            self.fail(str(e))
        except Exception as e:  # a bug in the checker must fail the test, not hang it
            self.fail(f"checker: {e!r}")


def stress(port, user, seconds):
    """Returns (errors, operations)."""
    setup = Conn(port, "setup", timeout=60)
    setup.simple(f"LOGIN {user} {PASSWORD}")
    for n in range(20):
        setup.command("APPEND INBOX \0", [message(n)])
    setup.simple("LOGOUT")
    setup.close()
    deadline = time.time() + seconds
    clients = [Client(k, port, user, deadline, random.Random(SEED * 100 + k)) for k in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(seconds + 120)
    errors = []
    for c in clients:
        if c.is_alive():
            errors.append(f"client {c.k}: still running {seconds + 120}s after the deadline")
        errors += c.errors
    alive = [c for c in clients if not c.is_alive() and c.conn is not None and not c.errors]
    # Visibility: flags one client sets are told to every other on NOOP.
    try:
        if alive:
            first = alive[0]
            for c in alive:  # everyone learns of every change first
                c.cmd("NOOP")
            first.cmd("STORE 1:* +FLAGS.SILENT (shared)", allow_no=False)
            for c in alive[1:]:
                untagged, _ = c.cmd("NOOP")
                shared = {int(m.group(1)) for m in (re.match(r"\* (\d+) FETCH .*FLAGS \(([^)]*\bshared\b[^)]*)\)", l, re.I)
                                                      for l in untagged) if m}
                missing = set(range(1, c.conn.track.count + 1)) - shared
                if missing:
                    c.fail(f"NOOP after another client's STORE 1:* +FLAGS (shared) did not report it for "
                           f"{len(missing)} of {c.conn.track.count} messages (e.g. {sorted(missing)[:5]})")
        # No lost update: each keyword is where its owner last put it.
        check = Conn(port, "check", timeout=60)
        check.simple(f"LOGIN {user} {PASSWORD}")
        check.select("INBOX")
        untagged = check.simple("UID FETCH 1:* FLAGS")
        flags = {}
        for line in untagged:
            m = re.match(r"\* \d+ FETCH \((.*)\)", line)
            if m:
                u = re.search(r"UID (\d+)", m.group(1))
                f = re.search(r"FLAGS \(([^)]*)\)", m.group(1))
                if u and f:
                    flags[int(u.group(1))] = set(f.group(1).lower().split())
        for c in clients:
            lost = [u for u, on in c.expected.items() if u in flags and (c.kw in flags[u]) != on]
            if lost:
                errors.append(f"client {c.k}: keyword {c.kw} lost or resurrected on UIDs {lost[:10]} "
                              f"({len(lost)} of {len(c.expected)} it changed)")
        for c in alive:
            c.cmd("NOOP")
            if c.conn.track.count != check.track.count:
                errors.append(f"client {c.k} believes the folder holds {c.conn.track.count} messages, "
                              f"a new SELECT says {check.track.count}")
        check.close()
    except ImapError as e:
        errors.append(f"final checks: {e}")
    for c in clients:
        errors += [e for e in c.errors if e not in errors]
        if c.conn:
            errors += c.conn.track.errors
            c.conn.close()
    return errors, sum(c.ops for c in clients)


class Stress(ImapTestCase):
    USER = "spost"
    PASSWORD = PASSWORD
    START = False
    DOVE_USER = "sdove"

    def test_dovecot_passes_the_checker(self):
        if not self.dovecot:
            self.skipTest("Dovecot is not installed (make deps installs it)")
        errors, ops = stress(self.dovecot.port, self.dove_user.name, SECONDS / 2)
        self.assertEqual(errors, [], f"seed {SEED}: the checker finds fault with Dovecot; {ops} commands")
        self.assertGreater(ops, 50)

    def test_postern_under_ten_clients(self):
        errors, ops = stress(self.server.port, self.user.name, SECONDS)
        self.assertEqual(errors[:30], [], f"seed {SEED}, {ops} commands, {len(errors)} errors; imapd log end:\n"
                         + self.server.log()[-2000:])
        self.assertGreater(ops, 50)
