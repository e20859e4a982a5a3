"""imapd's pre-auth stage and the byte stream around the login: a real
tcpserver running bin/imapd as root, a system user with a password (the
shadow file), raw sockets and Python's imaplib as clients. What a client
sees: an RFC 2971 ID as big as the RFC allows is answered before login,
commands pipelined after LOGIN or AUTHENTICATE run in order in the
mailbox stage, and the limits of imapd(8) hold."""
import base64
import imaplib
import os
import socket
import re
import subprocess
import time
import unittest
import zlib

from harness import IS_ROOT, Instance, TcpServer, remove_test_users


def read_until(f, tag):
    """The lines up to and including the tagged reply to tag (bytes)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise AssertionError(f"connection closed before {tag!r}; got {lines!r}")
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


@unittest.skipUnless(IS_ROOT, "needs root: system users, tcpserver as root")
class ImapdLogin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("galice")
        inst.set_password(cls.alice, "alice-pw")
        inst.start()
        cls.server = TcpServer(inst, "imapd")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        return s, f

    # -- ID and the line limit before login ------------------------------
    def test_id_with_thirty_pairs_of_1k_values_is_answered_before_login(self):
        s, f = self.connect()
        pairs = " ".join(f'"key{i}" "{chr(97 + i % 26) * 1024}"' for i in range(29))
        s.sendall(f'i1 ID ("name" "bigclient" {pairs})\r\n'.encode())
        lines = read_until(f, b"i1")
        self.assertTrue(lines[-1].startswith(b"i1 OK"), lines)
        self.assertTrue(any(l.startswith(b"* ID ") for l in lines), lines)
        # Literals are strings too (RFC 2971's nstring).
        s.sendall(b'i2 ID ("name" {6+}\r\nclient "version" NIL)\r\n')
        self.assertTrue(read_until(f, b"i2")[-1].startswith(b"i2 OK"))
        s.sendall(b"i3 ID NIL\r\n")
        self.assertTrue(read_until(f, b"i3")[-1].startswith(b"i3 OK"))
        # The session goes on: a login after it works.
        s.sendall(f"l1 LOGIN {self.alice.name} alice-pw\r\n".encode())
        self.assertTrue(read_until(f, b"l1")[-1].startswith(b"l1 OK"))
        s.sendall(b"z LOGOUT\r\n")
        read_until(f, b"z")
        self.assertIn("ID NAME=bigclient", self.server.log())

    def test_malformed_or_oversized_id_is_bad(self):
        s, f = self.connect()
        for i, args in enumerate([b"", b" (", b' ("name")', b' ("name" "x" "version")', b" FOO",
                                  b' ("name" "x")x', b' ("' + b"k" * 31 + b'" "v")',
                                  b' ("name" "' + b"v" * 1025 + b'")',
                                  b" (" + b" ".join(b'"k%d" "v"' % n for n in range(31)) + b")"]):
            tag = b"b%d" % i
            s.sendall(tag + b" ID" + args + b"\r\n")
            self.assertTrue(read_until(f, tag)[-1].startswith(tag + b" BAD"), args)
        s.sendall(b"n NOOP\r\n")
        self.assertTrue(read_until(f, b"n")[-1].startswith(b"n OK"))

    def test_line_over_64k_before_login_is_bad_and_the_session_goes_on(self):
        s, f = self.connect()
        s.sendall(b'c1 ID ("name" "' + b"x" * 70000 + b'")\r\n')
        self.assertTrue(read_until(f, b"c1")[-1].startswith(b"c1 BAD Command line too long"))
        # Just under the limit is a line like any other (answered BAD for
        # its value over 1024 bytes, not for its length).
        s.sendall(b"c2 NOOP " + b"y" * 65000 + b"\r\n")
        self.assertTrue(read_until(f, b"c2")[-1].startswith(b"c2 BAD Unexpected arguments"))
        s.sendall(b"c3 NOOP\r\n")
        self.assertTrue(read_until(f, b"c3")[-1].startswith(b"c3 OK"))

    # -- pipelining across the login ---------------------------------------
    def check_pipelined(self, login, login_tag):
        s, f = self.connect()
        s.sendall(login + b"p1 CREATE piped\r\np2 SELECT INBOX\r\n"
                  b"p3 STATUS piped (MESSAGES)\r\np4 NOOP\r\np5 LOGOUT\r\n")
        got = []
        for tag in [login_tag, b"p1", b"p2", b"p3", b"p4", b"p5"]:
            lines = read_until(f, tag)
            got.append(lines)
            self.assertTrue(lines[-1].startswith(tag + b" OK"), (tag, lines))
        self.assertIn(b"* STATUS piped (MESSAGES 0)\r\n", got[3])
        self.assertTrue(any(b"BYE" in l for l in got[5]))
        self.assertTrue(os.path.isdir(os.path.join(self.alice.maildir, ".piped")))
        subprocess.run(["rm", "-rf", os.path.join(self.alice.maildir, ".piped")], check=True)

    def test_commands_pipelined_after_login_run_in_order(self):
        self.check_pipelined(f"a1 LOGIN {self.alice.name} alice-pw\r\n".encode(), b"a1")

    def test_commands_pipelined_after_login_with_literals_run_in_order(self):
        name = self.alice.name.encode()
        self.check_pipelined(b"a2 LOGIN {%d+}\r\n%s {8+}\r\nalice-pw\r\n" % (len(name), name), b"a2")

    def test_commands_pipelined_after_authenticate_sasl_ir_run_in_order(self):
        ir = base64.b64encode(b"\0" + self.alice.name.encode() + b"\0alice-pw")
        self.check_pipelined(b"a3 AUTHENTICATE PLAIN " + ir + b"\r\n", b"a3")

    def test_commands_after_a_failed_login_are_answered_by_the_pre_auth_stage(self):
        s, f = self.connect()
        s.sendall(f"a1 LOGIN {self.alice.name} wrong\r\na2 SELECT INBOX\r\n"
                  f"a3 LOGIN {self.alice.name} alice-pw\r\na4 SELECT INBOX\r\n".encode())
        self.assertTrue(read_until(f, b"a1")[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]"))
        self.assertTrue(read_until(f, b"a2")[-1].startswith(b"a2 BAD Log in first"))
        self.assertTrue(read_until(f, b"a3")[-1].startswith(b"a3 OK"))
        self.assertTrue(read_until(f, b"a4")[-1].startswith(b"a4 OK"))

    # -- LITERAL- -------------------------------------------------------------
    def test_literal_minus_takes_4096_bytes_without_continuation_and_refuses_more(self):
        self.inst.control("literalimapd", "-")
        self.addCleanup(os.unlink, os.path.join(self.inst.home, "control", "literalimapd"))
        s, f = self.connect()
        s.sendall(b"c0 CAPABILITY\r\n")
        caps = read_until(f, b"c0")[0]
        self.assertIn(b" LITERAL-", caps)
        self.assertNotIn(b"LITERAL+", caps)
        # Before login literals stay within 1 KiB anyway.
        s.sendall(b'c1 ID ("name" {1000+}\r\n' + b"x" * 1000 + b")\r\nc2 NOOP\r\n")
        self.assertTrue(read_until(f, b"c1")[-1].startswith(b"c1 OK"))
        self.assertTrue(read_until(f, b"c2")[-1].startswith(b"c2 OK"))
        name = self.alice.name.encode()
        s.sendall(b"l1 LOGIN {%d+}\r\n%s alice-pw\r\n" % (len(name), name))
        ok = read_until(f, b"l1")[-1]
        self.assertTrue(ok.startswith(b"l1 OK"), ok)
        self.assertIn(b" LITERAL-", ok)
        self.assertNotIn(b"LITERAL+", ok)
        # After login: 4096 bytes come without "+"; 4097 are refused and
        # the session goes on.
        s.sendall(b"s1 SELECT {4096+}\r\n" + b"m" * 4096 + b"\r\n")
        self.assertNotIn(b"TOOBIG", read_until(f, b"s1")[-1])  # no such folder, but read
        s.sendall(b"s2 SELECT {4097+}\r\n" + b"m" * 4097 + b"\r\ns3 SELECT INBOX\r\n")
        self.assertTrue(read_until(f, b"s2")[-1].startswith(b"s2 BAD [TOOBIG]"))
        self.assertTrue(read_until(f, b"s3")[-1].startswith(b"s3 OK"))
        s.sendall(b"z LOGOUT\r\n")
        read_until(f, b"z")
        self.assertIn("non-synchronizing literal over 4096 bytes", self.server.log())

    def test_literal_plus_by_default(self):
        s, f = self.connect()
        s.sendall(f"l1 LOGIN {self.alice.name} alice-pw\r\ns1 SELECT {{5000+}}\r\n".encode() + b"m" * 5000
                  + b"\r\n")
        ok = read_until(f, b"l1")[-1]
        self.assertIn(b" LITERAL+", ok)
        self.assertNotIn(b"LITERAL-", ok)
        self.assertNotIn(b"TOOBIG", read_until(f, b"s1")[-1])

    # -- what a login costs ---------------------------------------------------
    def test_mailauth_hashes_with_argon2id_sized_for_a_login_server(self):
        bob = self.inst.add_user("gbob")
        r = self.inst.run("mailauth", ["add", "-m", bob.name, bob.name], b"bob-pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.inst.home, "users", "mailauth")) as f:
            entry = [l for l in f if l.startswith(bob.name + ":")][0]
        self.assertTrue(entry.split(":")[1].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), entry)
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        self.assertEqual(c.login(bob.name, "bob-pw")[0], "OK")
        c.logout()

    def test_login_servers_do_not_load_libcrypto(self):
        # Only checkpassword needs it (APOP's MD5); each start of the
        # others would pay for loading it.
        for prog in ("imapd", "imapd-mailbox", "pop3d", "pop3d-mailbox"):
            out = subprocess.run(["ldd", os.path.join(self.inst.bin, prog)], capture_output=True, text=True).stdout
            self.assertIn("libc.so", out, prog)
            self.assertNotIn("libcrypto", out, prog)

    # -- COMPRESS=DEFLATE (RFC 4978) -------------------------------------------
    def deflate_session(self):
        """A logged-in raw session after COMPRESS DEFLATE: (send, read_until, pid)."""
        exe = os.path.join(self.inst.bin, "imapd-mailbox")

        def pids():
            out = set()
            for d in os.listdir("/proc"):
                try:
                    if d.isdigit() and os.readlink(f"/proc/{d}/exe") == exe:
                        out.add(int(d))
                except OSError:
                    pass
            return out
        before = pids()
        s, f = self.connect()
        s.sendall(f"l1 LOGIN {self.alice.name} alice-pw\r\n".encode())
        ok = read_until(f, b"l1")[-1]
        self.assertIn(b"COMPRESS=DEFLATE", ok)
        s.sendall(b"z1 COMPRESS DEFLATE\r\n")
        self.assertTrue(read_until(f, b"z1")[-1].startswith(b"z1 OK"))
        comp, decomp = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
        buf = bytearray()

        def send(data):
            s.sendall(comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))

        def until(tag):
            lines = []
            while True:
                while b"\n" not in buf:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, f"closed before {tag!r}: {lines!r}")
                    buf.extend(decomp.decompress(chunk))
                i = buf.index(b"\n") + 1
                line = bytes(buf[:i])
                del buf[:i]
                lines.append(line)
                if line.startswith(tag + b" "):
                    return lines
        started = time.time()
        while not (pids() - before) and time.time() < started + 20:
            time.sleep(0.1)
        return send, until, (pids() - before).pop()

    def test_compress_deflate_both_ways(self):
        s, f = self.connect()  # not before login: the pre-auth stage has none
        s.sendall(b"c0 CAPABILITY\r\n")
        self.assertNotIn(b"COMPRESS", read_until(f, b"c0")[0])
        send, until, _ = self.deflate_session()
        send(b"c1 CAPABILITY\r\n")
        self.assertIn(b"COMPRESS=DEFLATE", until(b"c1")[0])
        body = b"".join(b"line %06d of a message sent compressed\r\n" % i for i in range(3000))
        msg = b"Subject: squeezed\r\n\r\n" + body
        send(b"a1 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        self.assertTrue(until(b"a1")[-1].startswith(b"a1 OK"))
        send(b"s1 SELECT INBOX\r\n")
        self.assertTrue(until(b"s1")[-1].startswith(b"s1 OK"))
        send(b"f1 FETCH * BODY.PEEK[TEXT]\r\n")
        lines = until(b"f1")
        self.assertTrue(lines[-1].startswith(b"f1 OK"))
        self.assertEqual(b"".join(lines[1:-2]), body)
        send(b"z2 COMPRESS DEFLATE\r\n")
        self.assertTrue(until(b"z2")[-1].startswith(b"z2 NO [COMPRESSIONACTIVE]"))
        send(b"z3 LOGOUT\r\n")
        self.assertTrue(until(b"z3")[-1].startswith(b"z3 OK"))

    def test_compressed_bomb_stays_bounded(self):
        send, until, pid = self.deflate_session()
        # 256 MiB of one line, about 256 KiB compressed.
        comp_line = b"b1 NOOP " + b"A" * (1 << 20)
        for _ in range(256):
            send(comp_line[8:] if _ else comp_line)
        send(b"\r\nn1 NOOP\r\n")
        lines = until(b"n1")
        self.assertTrue(lines[0].startswith(b"b1 BAD Command line too long"), lines[0][:80])
        self.assertTrue(lines[-1].startswith(b"n1 OK"))
        with open(f"/proc/{pid}/status") as st:
            peak = int(re.search(r"VmHWM:\s+(\d+) kB", st.read()).group(1)) * 1024
        self.assertLess(peak, 64 << 20)

    def test_imaplib_login_still_works(self):
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        self.assertEqual(c.login(self.alice.name, "alice-pw")[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        c.logout()


if __name__ == "__main__":
    unittest.main()
