"""Helpers for the smtpd tests and bench/smtp: a real tcpserver running
bin/smtpd on a free loopback port, tcprules databases, and a raw SMTP
client for what smtplib will not send (smuggling, pipelining, BDAT)."""
import os
import pwd
import signal
import socket
import subprocess
import time

from harness import TcpServer, free_port, make_env, wait_for


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


class SmtpServer(TcpServer):
    """tcpserver -R -H -l 0 [-x rules] -u posternd -g nofiles 127.0.0.1 PORT bin/smtpd."""

    def __init__(self, inst, rules=None, program=None, extra=(), port=None):
        uid, gid = daemon_ids(inst)
        options = ["-l", "0", "-c", "200"] + (["-x", rules] if rules else [])
        if inst.multi:
            options += ["-u", str(uid), "-g", str(gid)]
        super().__init__(inst, program or "smtpd", extra, options, port)


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


# -- TLS and submission (tlsd(8) in front of smtpd) ----------------------

def smtpd_tls_server(inst, mode="25"):
    """tcpserver running smtpd behind tlsd, as the boot files do:
    "25": tlsd -u posternd smtpd (STARTTLS, no AUTH);
    "587": tlsd smtpd -s (root: smtpd splits itself);
    "465": tlsd -i smtpd -s (implicit TLS)."""
    from harness import TlsServer
    if mode == "25":
        return TlsServer(inst, "smtpd", user="posternd" if inst.multi else None)
    return TlsServer(inst, "smtpd", args=("-s",), implicit=mode == "465")


def tls_context(cafile):
    import ssl
    return ssl.create_default_context(cafile=cafile)


def process_ids(pid):
    """(real uid, effective uid) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                ids = [int(x) for x in line.split()[1:]]
                return ids[0], ids[1]
    return None


def processes_of(path):
    """The pids running the executable at path."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") == path:
                out.append(int(d))
        except OSError:
            pass
    return out


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


