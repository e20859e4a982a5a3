"""A raw IMAP client for the compliance and stress tests, with the state
tracking imaptest does: every untagged response a connection reads is
checked against what the connection knows of the selected mailbox
(EXISTS never shrinks without EXPUNGE/VANISHED, EXPUNGE and FETCH name a
message that exists, a message keeps its UID and new ones get higher
UIDs). A violation is recorded in .errors, never raised, so a test can
report all of them.

Trusts: nothing the server sends (every read is bounded in size and
time). Returns: responses as text lines in which each literal is shown
as a quoted string with CR, LF, quote and backslash escaped, so a
scenario can match bodies on one line."""
import re
import socket
import time

MAX_LINE = 4 * 1024 * 1024


class ImapError(Exception):
    pass


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


class Conn:
    """One IMAP connection. read_line() returns a logical response line
    (literals inlined as quoted strings) or raises ImapError on EOF,
    timeout or an oversized response."""

    def __init__(self, port, name="1", timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.tagn = 0
        self.track = Tracker(name)
        self.name = name
        self.greeting = self.read_line()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise ImapError(f"connection {self.name}: no answer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise ImapError(f"connection {self.name}: no answer in time")
        except OSError as e:
            raise ImapError(f"connection {self.name}: {e}")
        if not data:
            raise ImapError(f"connection {self.name}: the server closed the connection")
        self.buf += data

    def _raw_line(self, deadline):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise ImapError("response line too long")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_line(self, timeout=None):
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        out = b""
        while True:
            line = self._raw_line(deadline)
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if not m:
                out += line
                break
            n = int(m.group(1))
            if n > MAX_LINE:
                raise ImapError("literal too long")
            while len(self.buf) < n:
                self._fill(deadline)
            data, self.buf = self.buf[:n], self.buf[n:]
            out += line[:m.start()] + quote_literal(data).encode()
        text = out.decode("utf-8", errors="replace")
        self.track.see(text)
        return text

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def next_tag(self):
        self.tagn += 1
        return f"{self.name}.{self.tagn}"

    def command(self, text, literals=(), timeout=None):
        """Sends `tag text` where each "\\0" in text is replaced by the next
        literal (synchronizing: waits for the continuation). Returns
        (untagged lines, tagged line)."""
        tag = self.next_tag()
        untagged = []
        verb = text.split(" ", 1)[0].upper()
        if verb in ("SELECT", "EXAMINE"):
            self.track.reset()
            self.track.selected = True
        self.verb = verb
        parts = text.split("\0")
        self.send(tag + " " + parts[0])
        for lit, rest in zip(literals, parts[1:]):
            self.send(f"{{{len(lit)}}}\r\n")
            while True:
                line = self.read_line(timeout)
                if line.startswith("+"):
                    break
                if line.startswith(tag + " "):
                    return untagged, line
                untagged.append(line)
            self.send(lit + rest.encode())
        self.send("\r\n")
        return self.finish(tag, untagged, timeout)

    def finish(self, tag, untagged=None, timeout=None):
        untagged = [] if untagged is None else untagged
        while True:
            line = self.read_line(timeout)
            if line.startswith(tag + " "):
                self.after(line, untagged)
                return untagged, line
            untagged.append(line)

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
