"""imapd's pre-auth stage and the byte stream around the login: a real
tcpserver running bin/imapd as root, a system user with a password (the
shadow file), raw sockets and Python's imaplib as clients. What a client
sees: an RFC 2971 ID as big as the RFC allows is answered before login,
commands pipelined after LOGIN or AUTHENTICATE run in order in the
mailbox stage, and the limits of imapd(8) hold."""
import base64
import imaplib
import os
import re
import subprocess
import unittest

from harness import wait_for
from imap_raw import ImapTestCase, as_bytes, mailbox_pids, peak_rss


class ImapdLogin(ImapTestCase):
    USER = "galice"

    def connect(self):
        c = super().connect(timeout=60)
        self.assertTrue(c.greeting.startswith("* OK"))
        return c

    def upto(self, c, tag):
        """The responses up to and including the tagged one for tag."""
        return c.read_until(lambda r: r.startswith(tag + " "))

    # -- ID and the line limit before login ------------------------------
    def test_id_with_thirty_pairs_of_1k_values_is_answered_before_login(self):
        c = self.connect()
        pairs = " ".join(f'"key{i}" "{chr(97 + i % 26) * 1024}"' for i in range(29))
        c.send(f'i1 ID ("name" "bigclient" {pairs})\r\n'.encode())
        lines = self.upto(c, "i1")
        self.assertTrue(lines[-1].startswith("i1 OK"), lines)
        self.assertTrue(any(l.startswith("* ID ") for l in lines), lines)
        # Literals are strings too (RFC 2971's nstring).
        c.send(b'i2 ID ("name" {6+}\r\nclient "version" NIL)\r\n')
        self.assertTrue(self.upto(c, "i2")[-1].startswith("i2 OK"))
        c.send(b"i3 ID NIL\r\n")
        self.assertTrue(self.upto(c, "i3")[-1].startswith("i3 OK"))
        # The session goes on: a login after it works.
        c.send(f"l1 LOGIN {self.user.name} alice-pw\r\n".encode())
        self.assertTrue(self.upto(c, "l1")[-1].startswith("l1 OK"))
        c.send(b"z LOGOUT\r\n")
        self.upto(c, "z")
        self.assertIn("ID NAME=bigclient", self.server.log())

    def test_malformed_or_oversized_id_is_bad(self):
        c = self.connect()
        for i, args in enumerate([b"", b" (", b' ("name")', b' ("name" "x" "version")', b" FOO",
                                  b' ("name" "x")x', b' ("' + b"k" * 31 + b'" "v")',
                                  b' ("name" "' + b"v" * 1025 + b'")',
                                  b" (" + b" ".join(b'"k%d" "v"' % n for n in range(31)) + b")"]):
            tag = f"b{i}"
            c.send(tag.encode() + b" ID" + args + b"\r\n")
            self.assertTrue(self.upto(c, tag)[-1].startswith(tag + " BAD"), args)
        c.send(b"n NOOP\r\n")
        self.assertTrue(self.upto(c, "n")[-1].startswith("n OK"))

    def test_line_over_64k_before_login_is_bad_and_the_session_goes_on(self):
        c = self.connect()
        c.send(b'c1 ID ("name" "' + b"x" * 70000 + b'")\r\n')
        self.assertTrue(self.upto(c, "c1")[-1].startswith("c1 BAD Command line too long"))
        # Just under the limit is a line like any other (answered BAD for
        # its value over 1024 bytes, not for its length).
        c.send(b"c2 NOOP " + b"y" * 65000 + b"\r\n")
        self.assertTrue(self.upto(c, "c2")[-1].startswith("c2 BAD Unexpected arguments"))
        c.send(b"c3 NOOP\r\n")
        self.assertTrue(self.upto(c, "c3")[-1].startswith("c3 OK"))

    # -- pipelining across the login ---------------------------------------
    def check_pipelined(self, login, login_tag):
        c = self.connect()
        c.send(login + b"p1 CREATE piped\r\np2 SELECT INBOX\r\n"
               b"p3 STATUS piped (MESSAGES)\r\np4 NOOP\r\np5 LOGOUT\r\n")
        got = []
        for tag in [login_tag, "p1", "p2", "p3", "p4", "p5"]:
            lines = self.upto(c, tag)
            got.append(lines)
            self.assertTrue(lines[-1].startswith(tag + " OK"), (tag, lines))
        self.assertIn("* STATUS piped (MESSAGES 0)", got[3])
        self.assertTrue(any("BYE" in l for l in got[5]))
        self.assertTrue(os.path.isdir(os.path.join(self.user.maildir, ".piped")))
        subprocess.run(["rm", "-rf", os.path.join(self.user.maildir, ".piped")], check=True)

    def test_commands_pipelined_after_login_run_in_order(self):
        self.check_pipelined(f"a1 LOGIN {self.user.name} alice-pw\r\n".encode(), "a1")

    def test_commands_pipelined_after_login_with_literals_run_in_order(self):
        name = self.user.name.encode()
        self.check_pipelined(b"a2 LOGIN {%d+}\r\n%s {8+}\r\nalice-pw\r\n" % (len(name), name), "a2")

    def test_commands_pipelined_after_authenticate_sasl_ir_run_in_order(self):
        ir = base64.b64encode(b"\0" + self.user.name.encode() + b"\0alice-pw")
        self.check_pipelined(b"a3 AUTHENTICATE PLAIN " + ir + b"\r\n", "a3")

    def test_commands_after_a_failed_login_are_answered_by_the_pre_auth_stage(self):
        c = self.connect()
        c.send(f"a1 LOGIN {self.user.name} wrong\r\na2 SELECT INBOX\r\n"
               f"a3 LOGIN {self.user.name} alice-pw\r\na4 SELECT INBOX\r\n".encode())
        self.assertTrue(self.upto(c, "a1")[-1].startswith("a1 NO [AUTHENTICATIONFAILED]"))
        self.assertTrue(self.upto(c, "a2")[-1].startswith("a2 BAD Log in first"))
        self.assertTrue(self.upto(c, "a3")[-1].startswith("a3 OK"))
        self.assertTrue(self.upto(c, "a4")[-1].startswith("a4 OK"))

    # -- LITERAL- -------------------------------------------------------------
    def test_literal_minus_takes_4096_bytes_without_continuation_and_refuses_more(self):
        self.inst.control("literalimapd", "-")
        self.addCleanup(os.unlink, os.path.join(self.inst.home, "control", "literalimapd"))
        c = self.connect()
        c.send(b"c0 CAPABILITY\r\n")
        caps = self.upto(c, "c0")[0]
        self.assertIn(" LITERAL-", caps)
        self.assertNotIn("LITERAL+", caps)
        # Before login literals stay within 1 KiB anyway.
        c.send(b'c1 ID ("name" {1000+}\r\n' + b"x" * 1000 + b")\r\nc2 NOOP\r\n")
        self.assertTrue(self.upto(c, "c1")[-1].startswith("c1 OK"))
        self.assertTrue(self.upto(c, "c2")[-1].startswith("c2 OK"))
        name = self.user.name.encode()
        c.send(b"l1 LOGIN {%d+}\r\n%s alice-pw\r\n" % (len(name), name))
        ok = self.upto(c, "l1")[-1]
        self.assertTrue(ok.startswith("l1 OK"), ok)
        self.assertIn(" LITERAL-", ok)
        self.assertNotIn("LITERAL+", ok)
        # After login: 4096 bytes come without "+"; 4097 are refused and
        # the session goes on.
        c.send(b"s1 SELECT {4096+}\r\n" + b"m" * 4096 + b"\r\n")
        self.assertNotIn("TOOBIG", self.upto(c, "s1")[-1])  # no such folder, but read
        c.send(b"s2 SELECT {4097+}\r\n" + b"m" * 4097 + b"\r\ns3 SELECT INBOX\r\n")
        self.assertTrue(self.upto(c, "s2")[-1].startswith("s2 BAD [TOOBIG]"))
        self.assertTrue(self.upto(c, "s3")[-1].startswith("s3 OK"))
        c.send(b"z LOGOUT\r\n")
        self.upto(c, "z")
        self.assertIn("non-synchronizing literal over 4096 bytes", self.server.log())

    def test_literal_plus_by_default(self):
        c = self.connect()
        c.send(f"l1 LOGIN {self.user.name} alice-pw\r\ns1 SELECT {{5000+}}\r\n".encode() + b"m" * 5000
               + b"\r\n")
        ok = self.upto(c, "l1")[-1]
        self.assertIn(" LITERAL+", ok)
        self.assertNotIn("LITERAL-", ok)
        self.assertNotIn("TOOBIG", self.upto(c, "s1")[-1])

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
        """A logged-in raw session after COMPRESS DEFLATE, and its pid."""
        before = mailbox_pids(self.inst)
        c = self.connect()
        ok, _ = c.cmd(f"LOGIN {self.user.name} {self.PASSWORD}")
        self.assertTrue(ok.startswith(f"t{c.n} OK"), ok)
        self.assertIn("COMPRESS=DEFLATE", ok)
        c.compress()
        pids = wait_for(lambda: mailbox_pids(self.inst) - before, 20, "imapd-mailbox")
        return c, pids.pop()

    def test_compress_deflate_both_ways(self):
        c = self.connect()  # not before login: the pre-auth stage has none
        c.send(b"c0 CAPABILITY\r\n")
        self.assertNotIn("COMPRESS", self.upto(c, "c0")[0])
        c, _ = self.deflate_session()
        c.send(b"c1 CAPABILITY\r\n")
        self.assertIn("COMPRESS=DEFLATE", self.upto(c, "c1")[0])
        body = b"".join(b"line %06d of a message sent compressed\r\n" % i for i in range(3000))
        msg = b"Subject: squeezed\r\n\r\n" + body
        c.send(b"a1 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        self.assertTrue(self.upto(c, "a1")[-1].startswith("a1 OK"))
        c.send(b"s1 SELECT INBOX\r\n")
        self.assertTrue(self.upto(c, "s1")[-1].startswith("s1 OK"))
        c.send(b"f1 FETCH * BODY.PEEK[TEXT]\r\n")
        lines = self.upto(c, "f1")
        self.assertTrue(lines[-1].startswith("f1 OK"))
        fetched = as_bytes(lines[-2])
        m = re.match(rb"\* \d+ FETCH \(BODY\[TEXT\] \{(\d+)\}\r\n", fetched)
        self.assertTrue(m, fetched[:200])
        self.assertEqual(fetched[m.end():], body + b")")
        c.send(b"z2 COMPRESS DEFLATE\r\n")
        self.assertTrue(self.upto(c, "z2")[-1].startswith("z2 NO [COMPRESSIONACTIVE]"))
        c.send(b"z3 LOGOUT\r\n")
        self.assertTrue(self.upto(c, "z3")[-1].startswith("z3 OK"))

    def test_compressed_bomb_stays_bounded(self):
        c, pid = self.deflate_session()
        # 256 MiB of one line, about 256 KiB compressed.
        comp_line = b"b1 NOOP " + b"A" * (1 << 20)
        for _ in range(256):
            c.send(comp_line[8:] if _ else comp_line)
        c.send(b"\r\nn1 NOOP\r\n")
        lines = self.upto(c, "n1")
        self.assertTrue(lines[0].startswith("b1 BAD Command line too long"), lines[0][:80])
        self.assertTrue(lines[-1].startswith("n1 OK"))
        self.assertLess(peak_rss(pid), 64 << 20)

    def test_imaplib_login_still_works(self):
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=60)
        self.assertEqual(c.login(self.user.name, "alice-pw")[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        c.logout()


if __name__ == "__main__":
    unittest.main()
