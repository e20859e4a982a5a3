"""URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524) of a real imapd under
a real tcpserver, driven over raw sockets: URLFETCH's extended form
(BODY, BINARY, BODYPARTSTRUCTURE) and its per-URL errors, the signing
key file kept whole when sessions change it at once, and a signed URL
that dies with its folder (deleted and made again under the same name,
with or without ;UIDVALIDITY= in the URL).

Trusts: imap_raw's client. Returns: unittest results."""
import re
import threading
import unittest

from harness import IS_ROOT
from imap_raw import ImapTestCase, is_ok

MULTI = (b"From: u@example.org\r\nSubject: url binary\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"u\"\r\n\r\n"
         b"--u\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
         b"--u\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         b"AAEC/w==\r\n"
         b"--u\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nodd\r\n"
         b"--u--\r\n")


@unittest.skipUnless(IS_ROOT, "needs root: a real user and tcpserver")
class UrlAuth(ImapTestCase):
    USER = "urlauth"

    def gen(self, c, rump):
        tagged, untagged = c.cmd(f'GENURLAUTH "{rump}" INTERNAL')
        self.assertTrue(is_ok(tagged), (tagged, untagged))
        m = re.match(r'\* GENURLAUTH "([^"]+)"', untagged[0])
        return m.group(1)

    def rump(self, box, uid, extra="", validity=None):
        v = f";UIDVALIDITY={validity}" if validity else ""
        return f"imap://{self.user.name}@localhost/{box}{v}/;UID={uid}{extra};urlauth=user+{self.user.name}"

    def fresh_box(self, c, name, message=MULTI):
        c.expect_ok(f"CREATE {name}")
        c.expect_ok(f"APPEND {name} {{}}", message)
        untagged = c.expect_ok(f"STATUS {name} (UIDVALIDITY)")
        return int(re.search(r"UIDVALIDITY (\d+)", untagged[0]).group(1))

    def test_capability(self):
        c = self.login()
        caps = c.expect_ok("CAPABILITY")[0].split()
        self.assertIn("URLAUTH=BINARY", caps)

    def test_extended_urlfetch(self):
        c = self.login()
        self.fresh_box(c, "Ext")
        url = self.gen(c, self.rump("Ext", 1, "/;SECTION=2"))
        # BINARY: the decoded bytes, NUL included, as a literal8.
        untagged = c.expect_ok(f'URLFETCH ("{url}" BINARY)')
        self.assertEqual(untagged, [f'* URLFETCH "{url}" (BINARY ~{{4}}\r\n\x00\x01\x02\udcff)'])
        # BODYPARTSTRUCTURE alone, then with BODY: the part as it is stored.
        untagged = c.expect_ok(f'URLFETCH ("{url}" BODYPARTSTRUCTURE)')
        self.assertEqual(untagged, [f'* URLFETCH "{url}" (BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL '
                                    f'"base64" 8 NIL NIL NIL NIL))'])
        untagged = c.expect_ok(f'URLFETCH ("{url}" BODYPARTSTRUCTURE BODY)')
        self.assertRegex(untagged[0], r'\(BODYPARTSTRUCTURE \("application" .*\) BODY \{8\}\r\nAAEC/w==\)$')
        # No parameter: BODY; the plain form stays RFC 4467's.
        self.assertEqual(c.expect_ok(f'URLFETCH ("{url}")'), [f'* URLFETCH "{url}" (BODY {{8}}\r\nAAEC/w==)'])
        self.assertEqual(c.expect_ok(f'URLFETCH "{url}"'), [f'* URLFETCH "{url}" {{8}}\r\nAAEC/w=='])
        # Errors: per URL NIL; a part that cannot be decoded gives BINARY NIL.
        odd = self.gen(c, self.rump("Ext", 1, "/;SECTION=3"))
        self.assertEqual(c.expect_ok(f'URLFETCH ("{odd}" BINARY) ("{url}" BINARY BODYPARTSTRUCTURE)')[0],
                         f'* URLFETCH "{odd}" (BINARY NIL)')
        nothing = self.gen(c, self.rump("Ext", 1, "/;SECTION=9"))
        self.assertEqual(c.expect_ok(f'URLFETCH ("{nothing}" BODYPARTSTRUCTURE)'), [f'* URLFETCH "{nothing}" NIL'])
        forged = url[:-8] + "00000000"
        self.assertEqual(c.expect_ok(f'URLFETCH ("{forged}" BINARY)'), [f'* URLFETCH "{forged}" NIL'])
        # A command that cannot be: BAD, and the session goes on.
        for bad in (f'URLFETCH ("{url}" BODY BINARY)', f'URLFETCH ("{url}" FOO)', f'URLFETCH ("{url}" BINARY'):
            tagged, _ = c.cmd(bad)
            self.assertRegex(tagged, r"^\S+ BAD ", bad)
        c.expect_ok("NOOP")

    def test_genurlauth_checks_the_message(self):
        c = self.login()
        v = self.fresh_box(c, "Gen")
        for rump in (self.rump("Gen", 2), self.rump("Gen", 1, validity=v + 1)):
            tagged, _ = c.cmd(f'GENURLAUTH "{rump}" INTERNAL')
            self.assertRegex(tagged, r"^\S+ NO \[BADURL ", rump)
        self.gen(c, self.rump("Gen", 1, validity=v))

    def test_url_dies_with_its_folder(self):
        c = self.login()
        v = self.fresh_box(c, "Again")
        plain = self.gen(c, self.rump("Again", 1, "/;SECTION=1"))
        pinned = self.gen(c, self.rump("Again", 1, "/;SECTION=1", validity=v))
        for url in (plain, pinned):
            self.assertEqual(c.expect_ok(f'URLFETCH "{url}"'), [f'* URLFETCH "{url}" {{5}}\r\nfirst'])
        c.expect_ok("DELETE Again")
        v2 = self.fresh_box(c, "Again")  # the same name, the same message, UID 1 again
        self.assertNotEqual(v, v2)
        for url in (plain, pinned):
            self.assertEqual(c.expect_ok(f'URLFETCH "{url}"'), [f'* URLFETCH "{url}" NIL'], url)
        # The new folder signs its own URLs.
        new = self.gen(c, self.rump("Again", 1, "/;SECTION=1"))
        self.assertNotEqual(new, plain)
        self.assertEqual(c.expect_ok(f'URLFETCH "{new}"'), [f'* URLFETCH "{new}" {{5}}\r\nfirst'])

    def test_keys_survive_sessions_at_once(self):
        # Each session's first GENURLAUTH of a folder writes a new key into
        # the one key file; sessions at once must not drop each other's.
        setup = self.login()
        sessions, folders = 4, 12
        for s in range(sessions):
            for f in range(folders):
                self.fresh_box(setup, f"K{s}x{f}")
        clients = [self.login() for _ in range(sessions)]
        urls, errors = [[] for _ in range(sessions)], []

        def sign(s):
            try:
                for f in range(folders):
                    urls[s].append(self.gen(clients[s], self.rump(f"K{s}x{f}", 1, "/;SECTION=1")))
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)
        threads = [threading.Thread(target=sign, args=(s,)) for s in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        lost = [u for us in urls for u in us
                if setup.expect_ok(f'URLFETCH "{u}"') != [f'* URLFETCH "{u}" {{5}}\r\nfirst']]
        self.assertEqual(lost, [])
        self.assertEqual(sum(len(u) for u in urls), sessions * folders)


if __name__ == "__main__":
    unittest.main()
