"""remote and RFC 6531 (SMTPUTF8), and the bounce of a bracketed
smtproutes relay (issue 14, "Habits that still break").

Instance A (me a.example) routes with control/smtproutes; instance B (me
b.example) is a real postern under tcpserver+smtpd, which offers SMTPUTF8
and refuses a non-ASCII address without it (553 5.6.7). The scripted peer
of test_remote (FakeSmtp) plays a server that does not offer SMTPUTF8,
and records every command it got."""
import os
import time
import unittest

import test_remote
from harness import Instance, maildir_files, read_message, remove_test_users, wait_for
from smtp_helpers import SmtpServer


class Utf8Remote(unittest.TestCase):
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
            cls.alice = a.add_user("ualice")
            b = cls.b = Instance()
            b.control("me", "b.example")
            b.control("locals", "b.example\nlocalhost")
            b.control("rcpthosts", "b.example")
            b.me = "b.example"
            cls.bob = b.add_user("ubob")
            # A UTF-8 address of bob's on B: an alias (~alias/.qmail-LOCAL)
            # forwarding to him.
            cls.utf8_local = "jörg"
            path = os.path.join(b.alias_home, ".qmail-" + cls.utf8_local)
            with open(path, "w") as f:
                f.write(f"&{cls.bob.name}@b.example\n")
            os.chmod(path, 0o644)
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

    def fake(self, domain, script=lambda n: {}, bracketed=False):
        f = test_remote.FakeSmtp(script)
        self.addCleanup(f.stop)
        self.routes[domain] = f"[127.0.0.1]:{f.port}" if bracketed else f"127.0.0.1:{f.port}"
        self.write_routes()
        return f

    def send(self, recipients, subject, sender=None):
        message = f"From: {self.alice.address}\nTo: {', '.join(recipients)}\nSubject: {subject}\n\nhello\n"
        p = self.a.inject(["-f", sender or self.alice.address] + recipients, message.encode())
        self.assertEqual(p.returncode, 0, p.stderr)

    def bounce_for(self, subject, timeout=40):
        def find():
            found = []
            for f in maildir_files(self.alice.maildir):
                with open(f, "rb") as fh:
                    raw = fh.read()
                if b"Subject: failure notice\n" in raw and f"Subject: {subject}\n".encode() in raw:
                    found.append(read_message(f))
            return found
        wait_for(find, timeout, f"a bounce for '{subject}'\n" + self.a.log()[-3000:])
        time.sleep(0.5)
        found = find()
        self.assertEqual(len(found), 1, "exactly one bounce")
        return found[0]

    def bob_message(self, subject, timeout=40):
        def find():
            return [m for m in (read_message(f) for f in maildir_files(self.bob.maildir)) if m["Subject"] == subject]
        return wait_for(find, timeout, f"'{subject}' in bob's Maildir\nA:\n" + self.a.log()[-2000:] +
                        "\nB:\n" + self.b.log()[-2000:] + self.bsmtpd.log()[-2000:])[0]

    # -- postern to postern -----------------------------------------------
    def test_utf8_recipient_delivered_to_postern_peer(self):
        to = f"{self.utf8_local}@b.example"
        self.send([to], "utf8 rcpt")
        msg = self.bob_message("utf8 rcpt")
        self.assertEqual(msg["Return-Path"], f"<{self.alice.address}>")
        self.assertIn(to, str(msg.get_all("Delivered-To")))

    def test_utf8_sender_delivered_to_postern_peer(self):
        sender = f"rené@a.example"
        self.send([f"{self.bob.name}@b.example"], "utf8 sender", sender=sender)
        msg = self.bob_message("utf8 sender")
        self.assertEqual(msg["Return-Path"], f"<{sender}>")

    # -- a peer without SMTPUTF8 -------------------------------------------
    def test_utf8_recipient_bounces_at_peer_without_smtputf8(self):
        f = self.fake("plain.example")
        self.send(["ascii@plain.example", "zoë@plain.example"], "no smtputf8")
        bounce = self.bounce_for("no smtputf8")
        human = [p for p in bounce.walk() if p.get_content_type() == "text/plain"][0]
        self.assertEqual(human.get_content_charset(), "utf-8")
        text = human.get_content()
        self.assertIn("<zoë@plain.example>:", text)
        self.assertIn("does not offer SMTPUTF8", text)
        _, groups = test_remote.dsn_groups(bounce)
        self.assertEqual(len(groups), 1, groups)
        self.assertEqual(groups[0]["Status"], "5.6.7")
        # The ASCII recipient went; the UTF-8 address never went out raw.
        wait_for(lambda: any(s.get("done") and s["data"] for s in f.sessions), 30, "the fake's session")
        commands = [c for s in f.sessions for c in s["commands"]]
        self.assertIn("RCPT TO:<ascii@plain.example>", commands)
        self.assertFalse([c for c in commands if "zo" in c], commands)
        self.assertFalse([c for c in commands if "SMTPUTF8" in c], commands)

    def test_utf8_sender_bounces_at_peer_without_smtputf8(self):
        f = self.fake("plain2.example")
        self.send(["x@plain2.example"], "utf8 sender plain", sender=f"{self.alice.name}@a.example")
        wait_for(lambda: any(s.get("done") for s in f.sessions), 30, "the fake's session")
        # Now with a UTF-8 sender: nothing is sent, the recipient fails.
        # Its bounce goes to the UTF-8 sender, which A does not have;
        # it ends as a double bounce (postmaster), so look at the fake.
        n = len(f.sessions)
        self.send(["y@plain2.example"], "utf8 sender plain 2", sender="josé@a.example")
        wait_for(lambda: len(f.sessions) > n and f.sessions[-1].get("done"), 30, "the fake's second session")
        self.assertFalse([c for c in f.sessions[-1]["commands"] if c.startswith(("MAIL", "RCPT"))],
                         f.sessions[-1]["commands"])

    def test_smtputf8_parameter_sent_when_offered(self):
        f = self.fake("utf8.example", lambda n: {"ext": ["PIPELINING", "8BITMIME", "SMTPUTF8"]})
        self.send(["zoë@utf8.example"], "with smtputf8")
        wait_for(lambda: any(s.get("done") and s["data"] for s in f.sessions), 30, "the fake's session")
        commands = [c for s in f.sessions for c in s["commands"]]
        mail = [c for c in commands if c.startswith("MAIL")]
        self.assertTrue(mail[-1].endswith(" SMTPUTF8"), mail)
        self.assertIn("RCPT TO:<zoë@utf8.example>", commands)

    def test_ascii_mail_has_no_smtputf8_parameter(self):
        f = self.fake("ascii.example", lambda n: {"ext": ["PIPELINING", "SMTPUTF8"]})
        self.send(["plain@ascii.example"], "ascii only")
        wait_for(lambda: any(s.get("done") and s["data"] for s in f.sessions), 30, "the fake's session")
        mail = [c for s in f.sessions for c in s["commands"] if c.startswith("MAIL")]
        self.assertFalse([m for m in mail if "SMTPUTF8" in m], mail)

    def test_utf8_header_asks_for_smtputf8_only_where_offered(self):
        f = self.fake("hdr.example", lambda n: {"ext": ["PIPELINING", "8BITMIME", "SMTPUTF8"]})
        g = self.fake("hdrplain.example")
        self.send(["a@hdr.example"], "Grüße aus A")
        self.send(["b@hdrplain.example"], "Grüße nach B")
        for peer in (f, g):
            wait_for(lambda: any(s.get("done") and s["data"] for s in peer.sessions), 30, "the fake's session")
        self.assertTrue([c for s in f.sessions for c in s["commands"] if c.startswith("MAIL") and
                         c.endswith(" SMTPUTF8")], f.sessions)
        self.assertFalse([c for s in g.sessions for c in s["commands"] if "SMTPUTF8" in c], g.sessions)
        self.assertIn("Subject: Grüße nach B\r\n".encode(), g.sessions[-1]["data"])

    # -- a bracketed smtproutes relay ---------------------------------------
    def test_bracketed_relay_bounce_has_remote_mta_once(self):
        self.fake("relay.example", lambda n: {"rcpt": lambda a: "550 5.1.1 no such user"}, bracketed=True)
        self.send(["nobody@relay.example"], "bracketed relay")
        bounce = self.bounce_for("bracketed relay")
        _, groups = test_remote.dsn_groups(bounce)
        self.assertEqual(len(groups), 1)
        self.assertEqual(groups[0].get("Remote-MTA"), "dns; 127.0.0.1", groups[0])
        self.assertEqual(groups[0]["Status"], "5.1.1")
        self.assertEqual(groups[0]["Diagnostic-Code"], "smtp; 550 5.1.1 no such user")
        human = [p for p in bounce.walk() if p.get_content_type() == "text/plain"][0].get_content()
        reason = human.split("<nobody@relay.example>:", 1)[1].strip().splitlines()[0]
        self.assertEqual(reason.count("127.0.0.1"), 1, reason)


if __name__ == "__main__":
    unittest.main()
