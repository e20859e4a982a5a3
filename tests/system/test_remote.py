"""Remote delivery between two postern instances on loopback, and against
a scripted SMTP peer for the replies a real smtpd will not give on cue.

Instance A (me a.example) routes with control/smtproutes; instance B (me
b.example) is a real postern under tcpserver+smtpd. The scripted peer
(FakeSmtp) answers exactly what a test says and records every byte it
got: it is how the 4xx-then-accept, the 5xx-for-one-of-three, the SIZE
limit and the connection lost after the final dot are tested."""
import email
import email.policy
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from smtp_helpers import SmtpServer, free_port


class FakeSmtp:
    """A scripted SMTP server on 127.0.0.1 (or host). script(n) gives the
    behaviour of the n-th session (0-based), a dict with the keys:
      ext        EHLO extensions (default PIPELINING, 8BITMIME)
      mail       reply to MAIL (default 250 ok)
      rcpt       function address -> reply (default 250 ok)
      final      reply to the final dot, or None to close the connection
                 without a reply (default 250 accepted)
    Each session is recorded as a dict: commands (lines without CRLF),
    data (the raw bytes between 354 and the final dot, CRLFs included),
    pipelined (MAIL, every RCPT and DATA had arrived before we answered
    MAIL)."""

    def __init__(self, script=lambda n: {}, host="127.0.0.1", port=0):
        self.script = script
        self.sessions = []
        self.host = host
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.on_session = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
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
            try:
                self._session(conn)
                self.sessions[-1]["done"] = True
            except Exception as e:  # recorded, seen by the test as a missing result
                self.sessions.append({"error": repr(e), "commands": [], "data": None})
            finally:
                conn.close()
            if self.on_session:
                self.on_session(self.sessions)

    def _session(self, conn):
        conn.settimeout(20)
        n = len(self.sessions)
        s = {"commands": [], "data": None, "pipelined": None}
        self.sessions.append(s)
        script = {"ext": ["PIPELINING", "8BITMIME"], "mail": "250 2.1.0 ok", "rcpt": lambda a: "250 2.1.5 ok",
                  "final": "250 2.0.0 accepted as fake-1"}
        script.update(self.script(n))
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

        send("220 fake.example ESMTP scripted")
        accepted = 0
        while True:
            raw = line()
            if raw is None:
                return
            cmd = raw.rstrip(b"\r\n").decode(errors="replace")
            s["commands"].append(cmd)
            verb = cmd[:4].upper()
            if verb == "EHLO":
                ext = script["ext"]
                send("\r\n".join(["250-fake.example"] + [f"250-{e}" for e in ext[:-1]] + [f"250 {ext[-1]}"])
                     if ext else "250 fake.example")
            elif verb == "HELO":
                send("250 fake.example")
            elif verb == "MAIL":
                # With PIPELINING the client may send MAIL, RCPT... and DATA
                # at once: wait a moment for DATA before answering anything.
                deadline = time.time() + 2
                conn.settimeout(0.1)
                while b"DATA\r\n" not in buf and time.time() < deadline:
                    try:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf.extend(chunk)
                    except socket.timeout:
                        pass
                conn.settimeout(20)
                s["pipelined"] = b"DATA\r\n" in buf
                send(script["mail"])
            elif verb == "RCPT":
                reply = script["rcpt"](re.search(r"<(.*)>", cmd).group(1))
                accepted += reply.startswith("2")
                send(reply)
            elif verb == "DATA":
                if not accepted:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                data = bytearray()
                while True:
                    l = line()
                    if l is None:
                        s["data"] = bytes(data)
                        return
                    if l == b".\r\n":
                        break
                    data.extend(l)
                s["data"] = bytes(data)
                if script["final"] is None:
                    return  # drop the connection without a reply
                send(script["final"])
            elif verb == "QUIT":
                send("221 bye")
                return
            elif verb in ("RSET", "NOOP"):
                send("250 ok")
            else:
                send("502 5.5.1 unknown command")


def smtpd_on_port(inst, port):
    """A real tcpserver+smtpd for inst on this port."""
    return SmtpServer(inst, port=port)


def dsn_groups(bounce):
    """The per-recipient field groups of an RFC 3464 report, as dicts."""
    parts = [p for p in bounce.walk() if p.get_content_type() == "message/delivery-status"]
    assert len(parts) == 1, "one message/delivery-status part"
    raw = parts[0].get_payload()
    if isinstance(raw, list):  # the email package parses it into header blocks
        blocks = [dict((k, str(v)) for k, v in b.items()) for b in raw]
    else:
        blocks = [dict(l.split(": ", 1) for l in b.splitlines() if ": " in l) for b in raw.split("\n\n") if b.strip()]
    return blocks[0], blocks[1:]


class Remote(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = None
        cls.servers = []
        try:
            a = cls.a = Instance()
            a.control("me", "a.example")
            a.control("locals", "a.example\nlocalhost")
            a.control("rcpthosts", "a.example")
            a.control("timeoutconnect", "5")
            a.control("timeoutremote", "20")
            a.me = "a.example"
            cls.alice = a.add_user("ralice")
            b = cls.b = Instance()
            b.control("me", "b.example")
            b.control("locals", "b.example\nlocalhost")
            b.control("rcpthosts", "b.example")
            b.me = "b.example"
            cls.bob = b.add_user("rbob")
            cls.carol = b.add_user("rcarol")
            p = b.run("newrcpt", [])
            assert p.returncode == 0, p.stderr
            b.start()
            cls.bsmtpd = SmtpServer(b)
            cls.servers.append(cls.bsmtpd)
            cls.routes = {"b.example": f"127.0.0.1:{cls.bsmtpd.port}"}
            cls.write_routes()
            a.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        for inst in (cls.a, cls.b):
            if inst:
                inst.cleanup()
        remove_test_users()

    @classmethod
    def write_routes(cls):
        cls.a.control("smtproutes", "".join(f"{d}:{r}\n" for d, r in cls.routes.items()))

    def route(self, domain, relay):
        self.routes[domain] = relay
        self.write_routes()

    def fake(self, domain, script=lambda n: {}):
        f = FakeSmtp(script)
        self.addCleanup(f.stop)
        self.route(domain, f"127.0.0.1:{f.port}")
        return f

    def send(self, recipients, subject, body="hello\n", sender=None):
        message = f"From: {self.alice.address}\nTo: {', '.join(recipients)}\nSubject: {subject}\n\n{body}"
        p = self.a.inject(["-f", sender or self.alice.address] + recipients, message)
        self.assertEqual(p.returncode, 0, p.stderr)

    def bounce_for(self, subject, timeout=30):
        """The one bounce in alice's Maildir about the message with this
        Subject (waits for it; fails when there are two)."""
        def find():
            found = []
            for f in maildir_files(self.alice.maildir):
                m = read_message(f)
                if m["Subject"] == "failure notice" and f"Subject: {subject}\n" in m.as_string():
                    found.append(m)
            return found
        found = wait_for(find, timeout, f"a bounce for '{subject}'\n" + self.a.log()[-3000:])
        time.sleep(0.5)
        found = find()
        self.assertEqual(len(found), 1, "exactly one bounce")
        return found[0]

    def mailq_has(self, text, timeout=30):
        return wait_for(lambda: text in self.a.mailq() and self.a.mailq(), timeout,
                        f"'{text}' in A's mailq:\n" + self.a.mailq() + self.a.log()[-2000:])

    def gone_from_queue(self, recipient, timeout=30):
        wait_for(lambda: recipient not in self.a.mailq(), timeout,
                 f"{recipient} to leave A's queue:\n" + self.a.mailq() + self.a.log()[-2000:])

    # -- the relay path, real postern on both ends ------------------------
    def test_relay_via_smtproutes_into_b_maildir(self):
        before = set(maildir_files(self.bob.maildir))
        to = f"{self.bob.name}@b.example"
        self.send([to], "relayed", body=".leading dot\nline two\n")
        got = self.b.wait_maildir(self.bob.maildir, len(before) + 1)
        path = [f for f in got if f not in before][0]
        msg = read_message(path)
        self.assertEqual(msg["Subject"], "relayed")
        self.assertEqual(msg["Return-Path"], f"<{self.alice.address}>")
        self.assertEqual(msg["Delivered-To"], to)
        self.assertIn(".leading dot\nline two\n", msg.get_content())
        received = [str(r) for r in msg.get_all("Received")]
        # Newest first: B's queue (invoked by smtpd, as posternd), B's smtpd
        # naming A's EHLO (control/me) and address, then A's queue (inject).
        self.assertEqual(len(received), 3, received)
        self.assertRegex(received[0], r"^\(postern \d+ invoked by uid \d+\);")
        self.assertRegex(received[1], r"^from a\.example \(\[127\.0\.0\.1\]\)\s+by b\.example \(postern smtpd\) "
                                      r"with ESMTP id [0-9a-f]{16};")
        self.assertRegex(received[2], r"^\(postern \d+ invoked by uid 0\);" if os.geteuid() == 0 else
                         r"^\(postern \d+ invoked by uid \d+\);")
        with open(path, "rb") as f:
            self.assertNotIn(b"\r", f.read())
        self.gone_from_queue(to)
        wait_for(lambda: " accepted client=127.0.0.1 helo=a.example " in self.bsmtpd.log(), 10, "B's smtpd log")

    def test_b_down_then_up(self):
        port = free_port()
        self.route("down.b.example", f"127.0.0.1:{port}")
        self.b.control("rcpthosts", "b.example\ndown.b.example")
        self.b.control("locals", "b.example\ndown.b.example\nlocalhost")
        p = self.b.run("newrcpt", [])
        self.assertEqual(p.returncode, 0, p.stderr)
        to = f"{self.bob.name}@down.b.example"
        before = set(maildir_files(self.bob.maildir))
        self.send([to], "while B is down")
        q = self.mailq_has("establish an SMTP connection")
        self.assertIn(f"remote <{to}>", q)
        self.assertIn("SMTP connection to [127.0.0.1]:", q)
        self.assertEqual(self.a.queue_count(), 1)
        # B comes up (B's send must re-read locals: restart it).
        self.b.stop()
        self.b.start()
        server = smtpd_on_port(self.b, port)
        self.servers.append(server)
        self.assertEqual(self.a.retry().returncode, 0)
        got = self.b.wait_maildir(self.bob.maildir, len(before) + 1, timeout=30)
        new = [read_message(f) for f in got if f not in before]
        self.assertEqual([m["Subject"] for m in new], ["while B is down"])
        self.gone_from_queue(to)

    # -- scripted peer -----------------------------------------------------
    def test_4xx_first_then_accepted_after_sendmail_q(self):
        f = self.fake("busy.example", lambda n: {"rcpt": lambda a: "450 4.2.1 mailbox busy, try later"} if n == 0
                      else {})
        self.send(["u1@busy.example"], "busy first")
        q = self.mailq_has("mailbox busy")
        self.assertIn("Remote host [127.0.0.1] said: 450 4.2.1 mailbox busy, try later", q)
        self.assertEqual(len(f.sessions), 1)
        self.assertIsNone(f.sessions[0]["data"])
        time.sleep(1)
        self.assertEqual(len(f.sessions), 1, "no retry before its time")
        self.assertEqual(self.a.retry().returncode, 0)
        self.gone_from_queue("u1@busy.example")
        self.assertEqual(len(f.sessions), 2)
        self.assertIn(b"Subject: busy first\r\n", f.sessions[1]["data"])
        # The log line comes through the logger's pipe, maybe after the queue
        # entry is gone: wait for it.
        success = (r"to=<u1@busy\.example> channel=remote relay=\[127\.0\.0\.1\] delay=[\d.]+ "
                   r"delays=[\d.]+/[\d.]+ dsn=2\.0\.0 status=sent "
                   r"reason=\"Remote host \[127\.0\.0\.1\] said: 250 2\.0\.0 accepted as fake-1")
        wait_for(lambda: re.search(success, self.a.log()), what="the success log line")
        self.assertRegex(self.a.log(), r"to=<u1@busy\.example> channel=remote .* dsn=4\.\d\.\d+ status=deferred "
                                       r"reason=\"Remote host \[127\.0\.0\.1\] said: 450")

    def test_5xx_for_one_of_three(self):
        def script(n):
            return {"rcpt": lambda a: "550 5.1.1 <two@three.example>: no such user here" if a.startswith("two@")
                    else "250 2.1.5 ok"}
        f = self.fake("three.example", script)
        rcpts = ["one@three.example", "two@three.example", "three@three.example"]
        body = ".leading dot\n..two dots\n.\nlast line without a newline"
        self.send(rcpts, "three of them", body=body)
        for r in rcpts:
            self.gone_from_queue(r)
        # One session carried all three, pipelined, with DATA once.
        wait_for(lambda: f.sessions and f.sessions[0].get("done"), 10, "the session to end")
        self.assertEqual(len(f.sessions), 1, f.sessions)
        s = f.sessions[0]
        verbs = [c.split()[0].upper() if c else c for c in s["commands"]]
        self.assertEqual(verbs, ["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "QUIT"], s["commands"])
        self.assertEqual(s["commands"][0], "EHLO a.example")
        self.assertEqual(s["commands"][1], f"MAIL FROM:<{self.alice.address}> BODY=8BITMIME")
        self.assertEqual(s["commands"][2:5], [f"RCPT TO:<{r}>" for r in rcpts])
        self.assertTrue(s["pipelined"], "MAIL, RCPT and DATA in one write when PIPELINING is offered")
        data = s["data"]
        self.assertNotRegex(data, rb"(?<!\r)\n", "only CRLF line ends on the wire")
        self.assertNotRegex(data, rb"\r(?!\n)", "no lone CR")
        self.assertIn(b"\r\n..leading dot\r\n...two dots\r\n..\r\nlast line without a newline\r\n", data)
        self.assertTrue(data.endswith(b"last line without a newline\r\n"))
        # One bounce, naming two@ only, with the remote's reply.
        bounce = self.bounce_for("three of them")
        self.assertEqual(bounce["To"], self.alice.address)
        text = bounce.get_body(("plain",)).get_content()
        self.assertIn("<two@three.example>:", text)
        # remote's note on TLS is for the reader, not the Diagnostic-Code.
        self.assertIn("no such user here (no TLS)", text)
        self.assertNotIn("one@three.example", text)
        self.assertNotIn("<three@three.example>", text)
        head, groups = dsn_groups(bounce)
        self.assertEqual(head["Reporting-MTA"], "dns; a.example")
        self.assertEqual(len(groups), 1, groups)
        g = groups[0]
        self.assertEqual(g["Final-Recipient"], "rfc822; two@three.example")
        self.assertEqual(g["Action"], "failed")
        self.assertEqual(g["Status"], "5.1.1")
        # RFC 3464: the remote's own reply, and the host in Remote-MTA.
        self.assertEqual(g["Diagnostic-Code"], "smtp; 550 5.1.1 <two@three.example>: no such user here")
        self.assertEqual(g["Remote-MTA"], "dns; 127.0.0.1")
        log = self.a.log()
        for r in ("one", "three"):
            self.assertRegex(log, rf"to=<{r}@three\.example> channel=remote .* status=sent reason=.* said: 250 2\.0\.0 accepted")
        self.assertRegex(log, r"to=<two@three\.example> channel=remote .* dsn=5\.1\.1 status=bounced reason=.* said: 550 5\.1\.1")

    def test_bounce_names_remote_mta(self):
        """RFC 3464 Remote-MTA, which issue 5 asks for."""
        self.fake("mta.example", lambda n: {"rcpt": lambda a: "550 5.7.1 go away"})
        self.send(["x@mta.example"], "remote mta")
        bounce = self.bounce_for("remote mta")
        _, groups = dsn_groups(bounce)
        self.assertEqual(len(groups), 1)
        self.assertEqual(groups[0]["Status"], "5.7.1")
        self.assertIn("Remote-MTA", groups[0], "the delivery-status group has no Remote-MTA field: " + repr(groups[0]))
        self.assertEqual(groups[0]["Remote-MTA"], "dns; 127.0.0.1")

    def test_size_limit_refuses_before_data(self):
        f = self.fake("small.example", lambda n: {"ext": ["PIPELINING", "SIZE 1000"]})
        self.send(["big@small.example"], "too big", body="a line of text\n" * 200)
        bounce = self.bounce_for("too big")
        _, groups = dsn_groups(bounce)
        self.assertEqual(groups[0]["Final-Recipient"], "rfc822; big@small.example")
        self.assertEqual(groups[0]["Status"], "5.3.4")
        self.assertIn("at most 1000 bytes", groups[0]["Diagnostic-Code"])
        self.assertEqual(len(f.sessions), 1)
        verbs = [c.split()[0].upper() for c in f.sessions[0]["commands"]]
        self.assertEqual(verbs, ["EHLO", "QUIT"], "no MAIL for a message over the SIZE limit")
        self.gone_from_queue("big@small.example")

    def test_size_parameter_sent_when_under_limit(self):
        f = self.fake("roomy.example", lambda n: {"ext": ["SIZE 100000"]})
        self.send(["r@roomy.example"], "fits")
        self.gone_from_queue("r@roomy.example")
        s = f.sessions[0]
        m = re.fullmatch(rf"MAIL FROM:<{re.escape(self.alice.address)}> SIZE=(\d+)", s["commands"][1])
        self.assertTrue(m, s["commands"])
        # SIZE= is the size on the wire: the data and its CRLFs, without the final dot.
        self.assertEqual(int(m.group(1)), len(s["data"]))
        # Without PIPELINING each command waits for its reply.
        self.assertFalse(s["pipelined"])

    def test_connection_lost_after_final_dot(self):
        f = self.fake("lossy.example", lambda n: {"final": None} if n == 0 else {})
        self.send(["l@lossy.example"], "lost after dot")
        q = self.mailq_has("after the final dot")
        self.assertIn("may have been accepted, and a retry may deliver it twice", q)
        self.assertIn("#4.4.2", q)
        self.assertIn(b"Subject: lost after dot\r\n", f.sessions[0]["data"])
        self.assertEqual(self.a.retry().returncode, 0)
        self.gone_from_queue("l@lossy.example")
        self.assertEqual(len(f.sessions), 2)

    def test_tcpto_remembers_a_host_that_does_not_answer(self):
        # A listening socket whose accept queue is full drops new SYNs: a
        # connection to it times out, on loopback, deterministically.
        lsock = socket.socket()
        lsock.bind(("127.0.0.2", 0))
        lsock.listen(0)
        port = lsock.getsockname()[1]
        fillers = []
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.2", port))
            fillers.append(c)
        time.sleep(0.3)
        probe = socket.socket()
        probe.settimeout(1)
        try:
            probe.connect(("127.0.0.2", port))
            self.skipTest("a full accept queue does not drop SYNs here")
        except socket.timeout:
            pass
        finally:
            probe.close()

        def cleanup():
            for c in fillers:
                c.close()
            lsock.close()
            self.a.control("timeoutconnect", "5")
            self.a.run("tcpto", ["-c"])
        self.addCleanup(cleanup)
        self.a.control("timeoutconnect", "1")
        self.route("blackhole.example", f"127.0.0.2:{port}")
        self.send(["t@blackhole.example"], "into the void")
        q = self.mailq_has("did not answer")
        self.assertIn("Sorry, I wasn't able to establish an SMTP connection to [127.0.0.2]: "
                      "it did not answer. (#4.4.1)", q)
        out = self.a.run("tcpto", []).stdout.decode()
        self.assertRegex(out, r"(?m)^127\.0\.0\.2  timed out \w{3}, \d+ \w{3} \d{4} [\d:]+ \+0000  \(skipped for now\)$")
        self.assertTrue(os.path.exists(os.path.join(self.a.home, "queue", "tcpto", "127.0.0.2")))
        p = self.a.run("tcpto", ["-c", "127.0.0.2"])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.a.run("tcpto", []).stdout.decode(), "")
        self.assertEqual(self.a.run("tcpto", ["-x"]).returncode, 100)

    def test_invalid_address_literal_bounces(self):
        self.send(["u@[300.1.1.1]"], "bad literal")
        bounce = self.bounce_for("bad literal")
        _, groups = dsn_groups(bounce)
        self.assertEqual(groups[0]["Final-Recipient"], "rfc822; u@[300.1.1.1]")
        self.assertEqual(groups[0]["Status"], "5.1.2")
        self.assertIn("The address literal [300.1.1.1] is not a valid address.", groups[0]["Diagnostic-Code"])


if __name__ == "__main__":
    unittest.main()
