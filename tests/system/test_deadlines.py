"""Deadlines: a client that keeps a connection busy (a command every
second, or one byte a second) passes every per-read timeout, but not the
whole-session deadline nor the shorter one before a first MAIL (smtpd) or
a login (pop3d, imapd). Real tcpserver, raw sockets; the goodbye is the
protocol's own, and the log says why."""
import socket
import subprocess
import time
import unittest

from harness import ServerTestCase, IS_ROOT, Instance, TcpServer, remove_test_users, wait_for
from smtp_helpers import SmtpServer


class Line:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        return self.file.readline().decode(errors="replace")

    def close(self):
        self.file.close()
        self.sock.close()

    def keep_busy(self, command, seconds, expect):
        """Sends command once a second for up to seconds, reading each
        answer; returns the first line that is not expect (the goodbye),
        with the time it came, or (None, elapsed) when none did."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                self.send(command)
            except OSError:
                pass
            line = self.line()
            if not line.startswith(expect):
                return line, time.monotonic() - started
            time.sleep(1)
        return None, time.monotonic() - started

    def closed(self):
        try:
            return self.sock.recv(100) == b""
        except OSError:
            return True


class Smtpd(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.alice = inst.add_user("alice")
            inst.control("timeoutsmtpd", "5")
            inst.control("deadlinesmtpdmail", "4")
            inst.control("deadlinesmtpd", "8")
            inst.start()
            cls.server = SmtpServer(inst)
        except Exception:
            cls.tearDownClass()
            raise

    def test_no_mail_in_time(self):
        c = Line(self.server.port)
        self.assertTrue(c.line().startswith("220 "))
        line, when = c.keep_busy("NOOP\r\n", 30, "250")
        self.assertTrue(line and line.startswith("421 4.4.2 "), line)
        self.assertIn("no mail transaction in time", line)
        self.assertGreaterEqual(when, 3)
        self.assertTrue(c.closed())
        c.close()
        wait_for(lambda: "no MAIL accepted within 4 seconds (control/deadlinesmtpdmail)" in self.server.log(), 10,
                 "the log line:\n" + self.server.log()[-2000:])

    def test_busy_transaction_meets_the_whole_deadline(self):
        """After an accepted MAIL the short deadline is gone; the whole one
        still ends a DATA that drips a byte a second (each read well
        within timeoutsmtpd), and nothing is queued."""
        c = Line(self.server.port)
        self.assertTrue(c.line().startswith("220 "))
        c.send("HELO client.example\r\n")
        self.assertTrue(c.line().startswith("250"))
        c.send("MAIL FROM:<s@example.net>\r\n")
        self.assertTrue(c.line().startswith("250 "))
        c.send(f"RCPT TO:<{self.alice.address}>\r\nDATA\r\n")
        self.assertTrue(c.line().startswith("250 "))
        self.assertTrue(c.line().startswith("354 "))
        started = time.monotonic()
        c.sock.settimeout(1)
        got = b""
        while time.monotonic() - started < 40 and b"\n" not in got:
            try:
                c.send(b"x")
                got += c.sock.recv(1000)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                break
        goodbye = got.decode(errors="replace")
        elapsed = time.monotonic() - started
        self.assertTrue(goodbye and goodbye.startswith("421 4.4.2 "), goodbye)
        self.assertIn("connection time limit", goodbye)
        self.assertGreater(elapsed, 4)  # past the MAIL deadline: that one was lifted
        c.close()
        wait_for(lambda: "time limit (8 seconds, control/deadlinesmtpd)" in self.server.log(), 10, "the log line")
        time.sleep(1)
        self.assertEqual(self.inst.queue_count(), 0)


def login_server(inst, program):
    return TcpServer(inst, program)


@unittest.skipUnless(IS_ROOT, "needs root: a system user with a password, pop3d and imapd as root")
class Login(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        try:
            cls.user = inst.add_user("dl")
            subprocess.run(["chpasswd"], input=f"{cls.user.name}:dl-pw\n".encode(), check=True)
            for name in ("pop3d", "imapd"):
                inst.control(f"deadline{name}login", "4")
                inst.control(f"deadline{name}", "4")
            cls.pop3 = TcpServer(inst, "pop3d")
            cls.imap = TcpServer(inst, "imapd")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in ("pop3", "imap"):
            if hasattr(cls, s):
                getattr(cls, s).stop()
        cls.inst.cleanup()
        remove_test_users()

    def check_log(self, server, text):
        wait_for(lambda: text in server.log(), 10, f"'{text}' in the log:\n" + server.log()[-2000:])

    def test_pop3_no_login_in_time(self):
        c = Line(self.pop3.port)
        self.assertTrue(c.line().startswith("+OK"))
        line, _ = c.keep_busy("USER nobody\r\n", 30, "+OK")
        self.assertTrue(line and line.startswith("-ERR [SYS/TEMP] no login in time"), line)
        self.assertTrue(c.closed())
        c.close()
        self.check_log(self.pop3, "no login within 4 seconds (control/deadlinepop3dlogin)")

    def test_pop3_session_deadline(self):
        c = Line(self.pop3.port)
        self.assertTrue(c.line().startswith("+OK"))
        c.send(f"USER {self.user.name}\r\n")
        self.assertTrue(c.line().startswith("+OK"))
        c.send("PASS dl-pw\r\n")
        self.assertTrue(c.line().startswith("+OK"))
        line, when = c.keep_busy("NOOP\r\n", 30, "+OK")
        self.assertTrue(line and line.startswith("-ERR [SYS/TEMP] session time limit"), line)
        self.assertTrue(c.closed())
        c.close()
        self.check_log(self.pop3, "session time limit (4 seconds, control/deadlinepop3d) reached")

    def test_imap_no_login_in_time(self):
        c = Line(self.imap.port)
        self.assertTrue(c.line().startswith("* OK"))
        line, _ = c.keep_busy("a NOOP\r\n", 30, "a OK")
        self.assertTrue(line and line.startswith("* BYE [UNAVAILABLE] no login in time"), line)
        self.assertTrue(c.closed())
        c.close()
        self.check_log(self.imap, "no login within 4 seconds (control/deadlineimapdlogin)")

    def test_imap_session_deadline(self):
        c = Line(self.imap.port)
        self.assertTrue(c.line().startswith("* OK"))
        c.send(f"a LOGIN {self.user.name} dl-pw\r\n")
        self.assertTrue(c.line().startswith("a OK"))
        line, _ = c.keep_busy("b NOOP\r\n", 30, "b OK")
        self.assertTrue(line and line.startswith("* BYE [UNAVAILABLE] session time limit"), line)
        self.assertTrue(c.closed())
        c.close()
        self.check_log(self.imap, "session time limit (4 seconds, control/deadlineimapd) reached")


if __name__ == "__main__":
    unittest.main()
