"""The one raw-socket IMAP client of the system tests, and the fixture
most IMAP test classes share (a real user with a Maildir and a password,
a started instance, imapd under a real tcpserver).

It is for what imaplib hides or refuses: exact bytes of a response,
literals sent either way (synchronising, LITERAL+, literal8), untagged
responses that come with no command (IDLE, NOTIFY, another session's
change), pipelining, STARTTLS and COMPRESS on the same connection.

Trusts: nothing the server sends; every read has a deadline and a
response larger than MAX_RESPONSE fails the test instead of filling
memory. Returns: text. A response is one str: its wire bytes without the
final CRLF, each literal kept as it came ("{n}\\r\\n" and its n bytes),
decoded as UTF-8 with surrogateescape, so as_bytes() gives the exact
bytes back (8-bit and NUL included).

Use: a test class derives from ImapTestCase (USER, PASSWORD, START,
IMAPD_ARGS, DOVE_USER, DOVECOT_SHARED, make_server); self.login() gives a
Client, c.cmd("APPEND box {}", data) -> (tagged, untagged),
c.expect_ok(...) -> untagged, c.read_until(pred, timeout) and
c.untagged(seconds) read what the server pushes."""
import imaplib
import os
import re
import socket
import ssl
import time
import unittest
import zlib

import dovecot_peer
from harness import IS_ROOT, Instance, ServerTestCase, TcpServer

MAX_RESPONSE = 64 * 1024 * 1024
_LITERAL = re.compile(rb"~?\{(\d+)\+?\}$")


class ImapEOF(EOFError):
    """The server closed the connection (what was left unread is in
    the message)."""


def as_bytes(text):
    """The wire bytes of a response (or of lines joined) read by Client."""
    return text.encode("utf-8", "surrogateescape")


def _text(data):
    return data.decode("utf-8", "surrogateescape")


def _bytes(data):
    return data if isinstance(data, bytes) else as_bytes(data)


def status(tagged):
    """A tagged line without its tag: "OK [...] text"."""
    return tagged.split(" ", 1)[1] if " " in tagged else ""


def is_ok(tagged):
    """True when a tagged line says OK."""
    return re.match(r"\S+ OK\b", tagged, re.I) is not None


class Client:
    """One IMAP connection to 127.0.0.1:port. tls: an SSLContext for
    implicit TLS (IMAPS). The greeting is read at once (.greeting)."""

    def __init__(self, port, timeout=30, tls=None, server_hostname="localhost", host="127.0.0.1", greeting=True,
                 prefix="t"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)
        self.timeout = timeout
        self.buf = bytearray()  # grows in place: a big literal is not copied at each recv
        self.prefix, self.n = prefix, 0  # tags are prefix + n, n the last one sent
        self.z_in = self.z_out = None
        self.greeting = self.line() if greeting else None

    # -- bytes in and out ---------------------------------------------
    def send(self, data):
        """data as it is (no CRLF added): for pipelining and bad input."""
        data = _bytes(data)
        if self.z_out:
            data = self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise socket.timeout("no answer in time; unread: " + repr(self.buf[:300]))
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ImapEOF("connection closed; unread: " + repr(self.buf[:300]))
        self.buf += self.z_in.decompress(data) if self.z_in else data
        if len(self.buf) > MAX_RESPONSE:
            raise AssertionError(f"a response over {MAX_RESPONSE} bytes")

    def _deadline(self, timeout):
        return time.time() + (self.timeout if timeout is None else timeout)

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self, timeout=None):
        """One line without its CRLF, literals not followed."""
        return _text(self._line(self._deadline(timeout)))

    def exact(self, n, timeout=None):
        """The next n bytes (a literal's body)."""
        return self._exact(n, self._deadline(timeout))

    def response(self, timeout=None):
        """One whole response: a line and, while it ends in a literal,
        the literal and the line that goes on after it."""
        deadline = self._deadline(timeout)
        out = self._line(deadline)
        while True:
            m = _LITERAL.search(out)
            if not m:
                return _text(out)
            out += b"\r\n" + self._exact(int(m.group(1)), deadline) + self._line(deadline)

    # -- commands ---------------------------------------------------------
    def next_tag(self):
        self.n += 1
        return f"{self.prefix}{self.n}"

    def cmd(self, text, *literals, plus=False, timeout=None, tag=None, mark="{}"):
        """Sends `tag text`; each mark ("{}") in text is where the next
        literal goes: synchronising (waits for "+"; a tagged answer
        instead ends the command) or, with plus, LITERAL+ with no wait.
        A literal given as ("~", data) is a literal8. timeout bounds
        each response. Returns (tagged line, untagged responses)."""
        tag = tag or self.next_tag()
        parts = text.split(mark)
        if len(parts) != len(literals) + 1:
            raise ValueError(f"{len(literals)} literals for {text!r}")
        data = _bytes(tag + " " + parts[0])
        untagged = []
        for lit, after in zip(literals, parts[1:]):
            prefix = ""
            if isinstance(lit, tuple):
                prefix, lit = lit
            lit = _bytes(lit)
            marker = b"%s{%d%s}\r\n" % (prefix.encode(), len(lit), b"+" if plus else b"")
            if plus:
                data += marker + lit + _bytes(after)
                continue
            self.send(data + marker)
            while True:
                r = self.response(timeout)
                if r.startswith("+"):
                    break
                if r.startswith(tag + " "):
                    return r, untagged
                untagged.append(r)
            data = lit + _bytes(after)
        self.send(data + b"\r\n")
        return self._finish(tag, untagged, timeout)

    def finish(self, tag, untagged=None, timeout=None):
        """Reads to the tagged answer of a command already sent (timeout
        bounds each response). Returns (tagged line, untagged responses)."""
        return self._finish(tag, untagged, timeout)

    def _finish(self, tag, untagged, timeout):
        untagged = [] if untagged is None else untagged
        while True:
            r = self.response(timeout)
            if r.startswith(tag + " "):
                return r, untagged
            untagged.append(r)

    def expect_ok(self, text, *literals, **kw):
        """cmd() whose answer must be OK; returns the untagged responses."""
        tagged, untagged = self.cmd(text, *literals, **kw)
        if not is_ok(tagged):
            raise AssertionError(f"{text[:200]!r} answered {tagged!r} after {untagged!r}"[:3000])
        return untagged

    def read_until(self, predicate, timeout=None):
        """Responses up to and including the first for which
        predicate(response) is true (IDLE, NOTIFY, pipelined commands)."""
        deadline = self._deadline(timeout)
        got = []
        while True:
            try:
                got.append(self.response(max(0.001, deadline - time.time())))
            except socket.timeout:
                raise AssertionError(f"nothing matched in time; got {got!r}"[:3000])
            if predicate(got[-1]):
                return got

    def untagged(self, timeout):
        """Untagged responses that come within timeout seconds (none is
        fine): what the server pushes unasked."""
        deadline = time.time() + timeout
        got = []
        while True:
            left = deadline - time.time()
            if left <= 0 and b"\r\n" not in self.buf:
                return got
            try:
                got.append(self.response(max(0.001, left)))
            except socket.timeout:
                return got

    # -- sessions -----------------------------------------------------------
    def login(self, user, password):
        """LOGIN with both as quoted strings; must be OK."""
        name = getattr(user, "name", user)
        return self.expect_ok(f'LOGIN "{name}" "{password}"')

    def starttls(self, context, server_hostname="localhost"):
        """STARTTLS, then the handshake on this socket."""
        self.expect_ok("STARTTLS")
        self.wrap_tls(context, server_hostname)

    def wrap_tls(self, context, server_hostname="localhost"):
        """The TLS handshake on this socket, after an OK to STARTTLS
        already read: anything the server sent after that OK in clear
        fails the test (RFC 3501 6.2.1)."""
        if self.buf:
            raise AssertionError(f"bytes after the STARTTLS answer: {self.buf!r}")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def compress(self):
        """COMPRESS DEFLATE (RFC 4978): raw deflate both ways from here."""
        self.expect_ok("COMPRESS DEFLATE")
        self.z_in = zlib.decompressobj(-15)
        self.z_out = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        if self.buf:
            self.buf = bytearray(self.z_in.decompress(self.buf))

    def logout(self):
        try:
            self.cmd("LOGOUT", timeout=5)
        except (OSError, EOFError):
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def mailbox_pids(inst):
    """The pids of inst's imapd-mailbox processes (one a session)."""
    return {pid for pid, _ in _mailbox_processes(inst)}


def newest_mailbox_pid(inst):
    """The imapd-mailbox process started last (the session just opened)."""
    return max(_mailbox_processes(inst), key=lambda p: (p[1], p[0]))[0]


def _mailbox_processes(inst):
    exe = os.path.join(inst.bin, "imapd-mailbox")
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/exe") == exe:
                    found.append((int(d), _stat(d)[19]))
            except (OSError, IndexError):
                pass
    return found


def _stat(pid):
    """/proc/pid/stat's fields after the command name (field 3 is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return [int(x) if x.lstrip("-").isdigit() else x for x in f.read().rsplit(")", 1)[1].split()]


def peak_rss(pid):
    """The peak resident memory of pid (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024


def cpu_seconds(pid):
    """The CPU time pid has spent, user and system."""
    fields = _stat(pid)
    return (fields[11] + fields[12]) / os.sysconf("SC_CLK_TCK")


def wakeups(pid):
    """How often pid gave up the CPU of its own accord (it slept)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", f.read()).group(1))


def tls_context(cafile):
    """A client context that trusts only cafile."""
    return ssl.create_default_context(cafile=cafile)


@unittest.skipUnless(IS_ROOT, "needs root: system users, tcpserver as root")
class ImapTestCase(ServerTestCase):
    """setUpClass makes cls.inst with one user, cls.user (USER, with a
    Maildir and PASSWORD), starts it when START, and runs imapd
    IMAPD_ARGS under tcpserver as cls.server. With DOVE_USER a second
    user of that name gets a Dovecot 2.3 of its own (cls.dove_user,
    cls.dovecot); with DOVECOT_SHARED a Dovecot serves cls.user's Maildir
    too. cls.dovecot is None when Dovecot is not installed.
    tearDownClass stops all of them and removes the users."""

    USER = "imuser"
    PASSWORD = "alice-pw"
    START = True
    IMAPD_ARGS = ()
    DOVE_USER = None
    DOVECOT_SHARED = False

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.dovecot = None
        cls.user = cls.inst.add_user(cls.USER)
        cls.inst.set_password(cls.user, cls.PASSWORD)
        if cls.START:
            cls.inst.start()
        cls.server = cls.make_server()
        if (cls.DOVE_USER or cls.DOVECOT_SHARED) and dovecot_peer.available():
            served = cls.user
            if cls.DOVE_USER:
                served = cls.dove_user = cls.inst.add_user(cls.DOVE_USER)
            cls.dovecot = dovecot_peer.DovecotPeer([served], password=cls.PASSWORD, tmp=cls.inst.tmp)

    @classmethod
    def make_server(cls):
        """The imapd the tests talk to (a class may put tlsd in front)."""
        return TcpServer(cls.inst, "imapd", cls.IMAPD_ARGS)

    @classmethod
    def tearDownClass(cls):
        if cls.dovecot:
            cls.dovecot.cleanup()
        super().tearDownClass()

    _puts = 0

    def put(self, data, folder=""):
        """A message file written straight into folder/new of the user's
        Maildir (folder: "" or ".Name"), as a delivery would; returns
        its file name."""
        ImapTestCase._puts += 1
        data = _bytes(data)
        name = f"{int(time.time())}.M{ImapTestCase._puts}P{os.getpid()}.test,S={len(data)}"
        # Written in tmp/ and renamed into new/, as a delivery does: a
        # session may move a file from new/ to cur/ the moment it appears.
        tmp = os.path.join(self.user.maildir, folder, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.user.uid, self.user.gid)
        os.rename(tmp, os.path.join(self.user.maildir, folder, "new", name))
        return name

    def make_folder(self, name):
        """The Maildir++ folder .name made on disk, as the user's."""
        d = os.path.join(self.user.maildir, "." + name)
        for sub in ("", "/cur", "/new", "/tmp"):
            os.mkdir(d + sub)
            os.chown(d + sub, self.user.uid, self.user.gid)
        return d

    def connect(self, port=None, **kw):
        """A new Client, closed when the test ends."""
        c = Client(port or self.server.port, **kw)
        self.addCleanup(c.close)
        return c

    def login(self, port=None, user=None, **kw):
        """A new Client logged in as user (cls.user by default)."""
        c = self.connect(port, **kw)
        c.login(user or self.user, self.PASSWORD)
        return c

    def imaplib_login(self, port=None, user=None, timeout=30):
        """Python's imaplib logged in as user (cls.user by default):
        where imaplib has the command, a test reads better with it."""
        c = imaplib.IMAP4("127.0.0.1", port or self.server.port, timeout=timeout)
        self.assertEqual(c.login(getattr(user or self.user, "name", user), self.PASSWORD)[0], "OK")
        return c
