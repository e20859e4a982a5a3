"""What the pop3d and imapd TLS tests share: a server as seen from another
host behind tlsd, a raw line client that can upgrade in place, and the
installed daemontools run files started as daemontools would."""
import os
import signal
import socket
import ssl
import subprocess

from harness import TcpServer, free_port, make_env, wait_for

REMOTE_IP = "192.0.2.7"


def remote_server(inst, program, tls=None):
    """program as seen by a client from 192.0.2.7: tcpserver [tlsd [-i]]
    env TCPREMOTEIP=192.0.2.7 program, as tcp-env sets it under inetd; the
    bytes still travel over loopback, so the test stays on this host."""
    argv = ["/usr/bin/env", f"TCPREMOTEIP={REMOTE_IP}", os.path.join(inst.bin, program)]
    if tls == "starttls":
        argv = [os.path.join(inst.bin, "tlsd")] + argv
    elif tls == "implicit":
        argv = [os.path.join(inst.bin, "tlsd"), "-i"] + argv
    return TcpServer(inst, argv)


class Raw:
    """A raw client: lines in and out, and a TLS upgrade in place."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace") + "\n"

    def until(self, prefix):
        """Lines up to the first that starts with prefix (an IMAP tag)."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(prefix):
                return lines

    def multiline(self):
        """A POP3 reply: one line, or a +OK and the lines up to '.'."""
        lines = [self.line()]
        if lines[0].startswith("+OK"):
            while lines[-1] != ".\r\n":
                lines.append(self.line())
        return lines

    def starttls(self, cafile):
        assert self.buf == b"", self.buf
        ctx = ssl.create_default_context(cafile=cafile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def close(self):
        self.sock.close()


def curl_resolve(port):
    return ["--resolve", f"localhost:{port}:127.0.0.1"]


def run_boot_file(inst, name):
    """conf-home/boot/NAME-tcpserver.run as daemontools runs it, on
    127.0.0.1 and a free port; returns (process, port)."""
    port = free_port()
    env = make_env()
    env.update(IP="127.0.0.1", PORT=str(port))
    log = open(os.path.join(inst.tmp, f"{name}-run.log"), "ab")
    proc = subprocess.Popen(["sh", os.path.join(inst.home, "boot", f"{name}-tcpserver.run")], stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd="/")
    log.close()

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, 20, f"{name}-tcpserver.run to listen")
    return proc, port


def stop_boot_file(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    proc.wait(timeout=20)


def process_users(inst):
    """{program name: set of user names} of the running processes of this
    instance's bin/ (not another test's)."""
    import pwd
    import re
    users = {}
    for d in os.listdir("/proc"):
        try:
            exe = os.readlink(f"/proc/{d}/exe")
            with open(f"/proc/{d}/status") as f:
                uid = int(re.search(r"Uid:\s+(\d+)", f.read()).group(1))
        except (OSError, ValueError):
            continue
        if os.path.dirname(exe) == inst.bin:
            users.setdefault(os.path.basename(exe), set()).add(pwd.getpwuid(uid).pw_name)
    return users


def read_key_as(inst, user):
    """cat control/tls/default.pem as user (its own group only): the
    CompletedProcess, for the caller to see it refused."""
    import pwd
    key = os.path.join(inst.home, "control", "tls", "default.pem")
    pw = pwd.getpwnam(user)
    return subprocess.run(["cat", key], capture_output=True, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          timeout=30)
