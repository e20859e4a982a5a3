#!/usr/bin/env python3
"""A tiny line protocol for the tlsd tests, run by tlsd as its program: it
uses TLSCTLFD as smtpd, pop3d and imapd do (tls_channel.hpp), and logs
every command it takes to stderr ("lineprog: got ..."), so a test can
tell which bytes reached the program. Commands: ECHO text, FACTS, ID,
STARTTLS, SLEEP seconds (reads nothing meanwhile), QUIT."""
import os
import socket
import sys
import time

mode = os.environ.get("TLSMODE", "")
fd = os.environ.get("TLSCTLFD")
ctl = socket.socket(fileno=int(fd)) if fd else None
buf = b""
facts = b""


def log(text):
    os.write(2, f"lineprog: {text}\n".encode())


def out(text):
    os.write(1, (text + "\r\n").encode())


def readline():
    global buf
    while b"\n" not in buf:
        data = os.read(0, 4096)
        if not data:
            return None
        buf += data
    line, buf = buf.split(b"\n", 1)
    return line.rstrip(b"\r").decode(errors="replace")


def is_open(n):
    try:
        os.fstat(n)
        return True
    except OSError:
        return False


def starttls():
    """Steps a-e of the contract: reply, ask, wait, discard, go."""
    global buf, facts
    out("+ go ahead")
    ctl.send(b"starttls")
    packet = ctl.recv(4097)
    if not packet.startswith(b"ok"):
        log(f"starttls failed: {packet!r}")
        sys.exit(0)
    dropped = len(buf)
    buf = b""
    s0 = socket.socket(fileno=os.dup(0))
    try:
        while True:
            data = s0.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                break
            dropped += len(data)
    except BlockingIOError:
        pass
    s0.close()
    log(f"discarded {dropped} bytes")
    ctl.send(b"go")
    facts = packet


if mode == "implicit":
    packet = ctl.recv(4097)
    if not packet.startswith(b"ok"):
        log(f"no TLS: {packet!r}")
        sys.exit(0)
    facts = packet
out(f"+ hello mode={mode} ready={os.environ.get('TLSREADY', '')} ctlfd={fd}")
while True:
    line = readline()
    if line is None:
        break
    log(f"got {line}")
    cmd, _, arg = line.partition(" ")
    cmd = cmd.upper()
    if cmd == "STARTTLS":
        starttls()
        out("+ tls on")
    elif cmd == "FACTS":
        out("+ " + facts.decode().replace("\n", "|"))
    elif cmd == "ID":
        out(f"+ uid={os.getuid()} gid={os.getgid()} groups={','.join(map(str, os.getgroups()))} "
            f"fds={','.join(str(n) for n in range(256) if is_open(n))}")
    elif cmd == "ECHO":
        out("+ " + arg)
    elif cmd == "SLEEP":
        time.sleep(float(arg))
        out("+ awake")
    elif cmd == "QUIT":
        out("+ bye")
        break
    else:
        out("- unknown command")
