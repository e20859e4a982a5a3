"""A small SMTP server with STARTTLS for remote's TLS tests, on real
loopback sockets with Python's ssl module, and the test certificates it
serves (made with the openssl command).

TlsPeer(options) answers one session after another; options(n) gives the
n-th session's behaviour (0-based), a dict with the keys:
  starttls   offer STARTTLS (default True)
  cert       (certfile, keyfile) served after STARTTLS
  go         the reply to STARTTLS (default "220 2.0.0 Ready to start TLS")
  extra      bytes sent right after that reply, in the same write (a
             server injecting plaintext before the handshake)
  garbage    after the reply, send these bytes instead of a TLS handshake
             and close (a handshake that fails)
  rcpt       reply to every RCPT (default 250)
Each session is recorded as a dict: commands (lines, in order), tls (the
ssl version and cipher once TLS is on, else None), commands_tls (the
commands that came over TLS), data (the message, CRLFs included, or
None)."""
import os
import socket
import ssl
import subprocess
import threading


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr.decode(errors="replace"))


class Certificates:
    """In directory d: a test CA (ca.pem), a server certificate for names
    signed by it (server.pem, server.key), and a self-signed one for the
    same names (self.pem, self.key) that no CA vouches for."""

    def __init__(self, d, names=("localhost",)):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        san = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=postern test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={names[0]}", cwd=d)
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
        openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2",
                "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}", cwd=d)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        self.ca = os.path.join(d, "ca.pem")
        self.server = (os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
        self.self_signed = (os.path.join(d, "self.pem"), os.path.join(d, "self.key"))


class TlsPeer:
    def __init__(self, options=lambda n: {}, certs=None):
        self.options = options
        self.certs = certs
        self.sessions = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                conn.close()
                return
            s = {"commands": [], "commands_tls": [], "tls": None, "data": None, "error": None}
            self.sessions.append(s)
            try:
                self._session(conn, s)
            except Exception as e:  # recorded; the test sees what is missing
                s["error"] = repr(e)
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def _session(self, conn, s):
        conn.settimeout(30)
        holder = [conn]
        try:
            self._talk(holder, s)
        finally:
            holder[0].close()

    def _talk(self, holder, s):
        conn = holder[0]
        o = {"starttls": True, "cert": self.certs.server if self.certs else None,
             "go": "220 2.0.0 Ready to start TLS", "extra": b"", "garbage": None, "rcpt": "250 2.1.5 ok"}
        o.update(self.options(len(self.sessions) - 1))
        buf = bytearray()

        def line():
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                buf.extend(chunk)
            i = buf.index(b"\n") + 1
            out = bytes(buf[:i])
            del buf[:i]
            return out

        def send(text):
            conn.sendall(text.encode() + b"\r\n")

        send("220 peer.example ESMTP test peer")
        while True:
            raw = line()
            if raw is None:
                return
            cmd = raw.rstrip(b"\r\n").decode(errors="replace")
            s["commands"].append(cmd)
            if s["tls"]:
                s["commands_tls"].append(cmd)
            verb = cmd[:8].upper().split(" ")[0]
            if verb == "EHLO":
                ext = ["PIPELINING", "8BITMIME"] + (["STARTTLS"] if o["starttls"] and not s["tls"] else [])
                send("\r\n".join(["250-peer.example"] + [f"250-{e}" for e in ext[:-1]] + [f"250 {ext[-1]}"]))
            elif verb == "STARTTLS":
                if s["tls"] or not o["starttls"]:
                    send("503 5.5.1 no")
                    continue
                conn.sendall(o["go"].encode() + b"\r\n" + o["extra"])
                if not o["go"].startswith("220"):
                    continue
                if o["garbage"] is not None:
                    conn.recv(1)  # the client's hello: the garbage answers it, not the 220
                    conn.sendall(o["garbage"])
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*o["cert"])
                conn = holder[0] = ctx.wrap_socket(conn, server_side=True)
                s["tls"] = (conn.version(), conn.cipher()[0])
                buf.clear()  # what came before the handshake is not the client's TLS talk
            elif verb == "MAIL":
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                send(o["rcpt"])
            elif verb == "DATA":
                send("354 go ahead")
                data = bytearray()
                while True:
                    l = line()
                    if l is None:
                        return
                    if l == b".\r\n":
                        break
                    data.extend(l)
                s["data"] = bytes(data)
                send("250 2.0.0 accepted by peer")
            elif verb == "QUIT":
                send("221 bye")
                return
            else:
                send("250 ok" if verb in ("RSET", "NOOP") else "502 5.5.1 unknown")
