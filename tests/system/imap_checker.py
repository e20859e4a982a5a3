"""A raw IMAP client for the compliance and stress tests, with the state
tracking imaptest does: every untagged response a connection reads is
checked against what the connection knows of the selected mailbox
(EXISTS never shrinks without EXPUNGE/VANISHED, EXPUNGE and FETCH name a
message that exists, a message keeps its UID and new ones get higher
UIDs). A violation is recorded in .errors, never raised, so a test can
report all of them. The reading is imap_raw's Client.

Trusts: nothing the server sends (every read is bounded in size and
time). Returns: responses as text lines in which each literal is shown
as a quoted string with CR, LF, quote and backslash escaped, so a
scenario can match bodies on one line."""
import re
import socket

from imap_raw import Client, as_bytes


class ImapError(Exception):
    pass


def _inline_literals(wire):
    """A response as Client reads it (each literal as "{n}" CRLF and n
    bytes) with each literal made a quoted string. Only a literal holds
    a CRLF, so the next CRLF always ends a line part."""
    out, i = b"", 0
    while True:
        j = wire.find(b"\r\n", i)
        if j < 0:
            return out + wire[i:]
        part = wire[i:j]
        m = re.search(rb"~?\{(\d+)\+?\}$", part)
        n = int(m.group(1))
        out += part[:m.start()] + quote_literal(wire[j + 2:j + 2 + n]).encode()
        i = j + 2 + n


def quote_literal(data):
    text = data.decode("utf-8", errors="replace")
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    return '"' + text + '"'


class Tracker:
    """What one connection knows of its selected mailbox."""

    def __init__(self, name):
        self.name = name
        self.errors = []
        self.reset()

    def reset(self):
        self.selected = False
        self.uids = []       # UID of each sequence number, None when not yet seen
        self.count = 0
        self.max_uid = 0

    def error(self, text, line):
        self.errors.append(f"{self.name}: {text}: {line[:300]}")

    def see(self, line):
        m = re.match(r"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b(.*)", line, re.I)
        if m and self.selected:
            n, what = int(m.group(1)), m.group(2).upper()
            if what == "EXISTS":
                if n < self.count:
                    self.error(f"EXISTS shrank from {self.count} without EXPUNGE", line)
                self.uids += [None] * (n - len(self.uids))
                self.count = n
            elif what == "EXPUNGE":
                if not 1 <= n <= self.count:
                    self.error(f"EXPUNGE of {n} with {self.count} messages", line)
                else:
                    del self.uids[n - 1]
                    self.count -= 1
            else:
                if not 1 <= n <= self.count:
                    self.error(f"FETCH of {n} with {self.count} messages", line)
                    return
                u = re.search(r"\bUID (\d+)", m.group(3), re.I)
                if u:
                    self.see_uid(n, int(u.group(1)), line)
            return
        m = re.match(r"\* VANISHED (\(EARLIER\) )?([\d:,]+)", line, re.I)
        if m and self.selected and not m.group(1):
            gone = set()
            for part in m.group(2).split(","):
                a, _, b = part.partition(":")
                lo, hi = sorted((int(a), int(b or a)))
                if hi - lo > 100000:
                    continue
                gone.update(range(lo, hi + 1))
            known = [u for u in self.uids if u in gone]
            if len(known) < len(gone) and None not in self.uids:
                pass  # VANISHED may name UIDs this connection never saw
            keep = [u for u in self.uids if u not in gone]
            unknown_gone = len(gone) - len(known)
            # Messages whose UID we never learnt may be among the vanished.
            while unknown_gone and None in keep and len(keep) > 0:
                keep.remove(None)
                unknown_gone -= 1
            self.uids = keep
            self.count = len(keep)

    def see_uid(self, seq, uid, line):
        old = self.uids[seq - 1]
        if old is not None and old != uid:
            self.error(f"message {seq} changed UID from {old} to {uid}", line)
        self.uids[seq - 1] = uid
        if seq > 1 and self.uids[seq - 2] is not None and self.uids[seq - 2] >= uid:
            self.error(f"UID {uid} of message {seq} is not above that of message {seq - 1}", line)
        if seq < self.count and self.uids[seq] is not None and self.uids[seq] <= uid:
            self.error(f"UID {uid} of message {seq} is not below that of message {seq + 1}", line)


class Conn(Client):
    """One IMAP connection (imap_raw's Client, tagged "name.n").
    read_line() returns a logical response line (literals inlined as
    quoted strings) or raises ImapError on EOF, timeout or an oversized
    response."""

    def __init__(self, port, name="1", timeout=20):
        super().__init__(port, timeout=timeout, greeting=False, prefix=f"{name}.")
        self.track = Tracker(name)
        self.name = name
        self.greeting = self.read_line()

    @property
    def tagn(self):
        return self.n

    def response(self, timeout=None):
        try:
            wire = as_bytes(super().response(timeout))
        except socket.timeout:
            raise ImapError(f"connection {self.name}: no answer in time")
        except EOFError:
            raise ImapError(f"connection {self.name}: the server closed the connection")
        except (OSError, AssertionError) as e:
            raise ImapError(f"connection {self.name}: {e}")
        text = _inline_literals(wire).decode("utf-8", errors="replace")
        self.track.see(text)
        return text

    read_line = response

    def command(self, text, literals=(), timeout=None):
        """Sends `tag text` where each "\\0" in text is replaced by the next
        literal (synchronizing: waits for the continuation). Returns
        (untagged lines, tagged line)."""
        verb = text.split(" ", 1)[0].upper()
        if verb in ("SELECT", "EXAMINE"):
            self.track.reset()
            self.track.selected = True
        self.verb = verb
        tagged, untagged = self.cmd(text, *literals, timeout=timeout, mark="\0")
        self.after(tagged, untagged)
        return untagged, tagged

    def finish(self, tag, untagged=None, timeout=None):
        """As Client's, but returns (untagged lines, tagged line)."""
        tagged, untagged = self._finish(tag, untagged, timeout)
        self.after(tagged, untagged)
        return untagged, tagged

    def after(self, tagged, untagged):
        """A SELECT/EXAMINE that failed, or CLOSE/UNSELECT, ends the
        tracking (RFC 3501 6.3.1: a failed SELECT leaves no mailbox)."""
        ok = re.match(r"\S+ OK\b", tagged, re.I)
        verb = getattr(self, "verb", "")
        if (verb in ("SELECT", "EXAMINE") and not ok) or (verb in ("CLOSE", "UNSELECT") and ok):
            self.track.reset()

    def simple(self, text, timeout=None):
        """A command without literals whose tagged answer must be OK."""
        untagged, tagged = self.command(text, timeout=timeout)
        if not re.match(r"\S+ OK\b", tagged, re.I):
            raise ImapError(f"{text!r} answered {tagged!r}")
        return untagged

    def select(self, box, extra="", examine=False):
        return self.command(f"{'EXAMINE' if examine else 'SELECT'} {box}{extra}")
