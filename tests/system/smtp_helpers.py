"""Helpers for the smtpd tests and bench/smtp: a real tcpserver running
bin/smtpd on a free loopback port, tcprules databases, and a raw SMTP
client for what smtplib will not send (smuggling, pipelining, BDAT)."""
import os
import pwd
import signal
import socket
import subprocess
import time

from harness import make_env, wait_for


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def daemon_ids(inst):
    """uid and gid smtpd runs as: posternd (group nofiles), or ourselves."""
    if not inst.multi:
        return os.getuid(), os.getgid()
    pw = pwd.getpwnam("posternd")
    return pw.pw_uid, pw.pw_gid


def tcprules(path, text):
    """Compiles tcprules(1) lines into path (a cdb)."""
    p = subprocess.run(["tcprules", path, path + ".tmp"], input=text.encode(), capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("tcprules failed: " + p.stderr.decode())
    os.chmod(path, 0o644)
    return path


class SmtpServer:
    """tcpserver -R -H -l 0 [-x rules] -u posternd -g nofiles 127.0.0.1 PORT bin/smtpd,
    in its own process group; its stderr (smtpd's log) goes to a file."""

    def __init__(self, inst, rules=None, program=None, extra=()):
        self.inst = inst
        self.port = free_port()
        self.logfile = os.path.join(inst.tmp, f"smtpd-{self.port}.log")
        uid, gid = daemon_ids(inst)
        cmd = ["tcpserver", "-R", "-H", "-l", "0", "-c", "200"]
        if rules:
            cmd += ["-x", rules]
        if inst.multi:
            cmd += ["-u", str(uid), "-g", str(gid)]
        cmd += ["127.0.0.1", str(self.port)] + (program or [os.path.join(inst.bin, "smtpd")]) + list(extra)
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=make_env(), cwd="/")
        log.close()
        wait_for(self._listening, 10, f"tcpserver on port {self.port}")

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Raw:
    """A raw SMTP connection: bytes out exactly as given, replies parsed."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One whole (perhaps multi-line) reply: (code, text), or (None, b'') at end of input."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return (None, b"".join(lines))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            lines.append(line + b"\n")
            if len(line) < 4 or line[3:4] != b"-":
                return (int(line[:3]), b"".join(lines).decode(errors="replace"))

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def command(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def greet(port, helo="EHLO client.example"):
    r = Raw(port)
    code, _ = r.reply()
    assert code == 220
    code, _ = r.command(helo)
    assert code == 250
    return r


def wait_log(server, text, timeout=10):
    return wait_for(lambda: text in server.log(), timeout, f"'{text}' in smtpd's log:\n" + server.log()[-2000:])


def now():
    return time.time()
