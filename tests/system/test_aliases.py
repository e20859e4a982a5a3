"""/etc/aliases and newaliases: every aliases(5) construct end to end
(targets, continuation lines, comments, quoted names, |command, /file,
:include:, aliases of aliases, case, owner-NAME, loops), the classic
default file that make setup installs, and newaliases' handling of a bad
file."""
import mailbox
import os
import pwd
import unittest

from harness import Instance, maildir_files, read_message, remove_test_users, wait_for


def report_parts(msg):
    """The three parts of an RFC 3464 report, checked for shape."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    return parts


def find_message(inst, maildir, needle, timeout=20):
    """The path of the message in maildir/new that contains needle."""
    needle = needle.encode()

    def find():
        for path in maildir_files(maildir):
            with open(path, "rb") as f:
                if needle in f.read():
                    return path
        return None
    return wait_for(find, timeout, f"a message with {needle!r} in {maildir}\nlog:\n" + inst.log()[-3000:])


def subjects(maildir):
    return [read_message(p)["Subject"] for p in maildir_files(maildir)]


class Aliases(unittest.TestCase):
    """An aliases file with every construct, compiled once."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.alice = inst.add_user("alice")
        cls.bob = inst.add_user("bob")
        cls.carol = inst.add_user("carol")  # has a .qmail-nope that bounces
        cls.dave = inst.add_user("dave")    # owner of the list
        cls.eve = inst.add_user("eve")      # the sender; bounces land here
        cls.gus = inst.add_user("gus")      # has an alias of his own name
        cls.carol.write(".qmail-nope", "|echo 'carol-nope is closed (#5.2.1)'; exit 100\n")
        # Where the alias user (postalias) may write: |command and /file run as it.
        alias_pw = pwd.getpwnam("postalias")
        cls.out = os.path.join(inst.tmp, "alias-out")
        os.makedirs(cls.out)
        os.chown(cls.out, alias_pw.pw_uid, alias_pw.pw_gid)
        os.chmod(cls.out, 0o755)
        cls.include = os.path.join(inst.tmp, "members")
        with open(cls.include, "w") as f:
            f.write(f"# the members of the included list\n{cls.alice.name}\n\n{cls.bob.name}@{inst.me}\n")
        os.chmod(cls.include, 0o644)
        a, b, c, d, g = cls.alice.name, cls.bob.name, cls.carol.name, cls.dave.name, cls.gus.name
        text = (
            "# postern test aliases\n"
            "\n"
            f"single: {a}\n"
            f"pair: {a}, {b}@{inst.me}\n"
            "# a comment between entries\n"
            f"long: {a},\n"
            f"   {b},\n"
            f"\t{c}\n"
            f"\"quoted\": {b}\n"
            f"\"x y\": {c}\n"
            f"runit: |cat > {cls.out}/piped\n"
            f"quotedprog: \"|cat > '{cls.out}/quoted, with a comma'\"\n"
            f"tofile: {cls.out}/aliasbox\n"
            f"incl: :include:{cls.include}\n"
            "chain1: chain2\n"
            "chain2: PAIR\n"
            f"LIST: {a}, {c}-nope\n"
            f"owner-list: {d}\n"
            "loopa: loopb\n"
            "loopb: loopa\n"
            f"helpdesk: {g}\n"
            f"{g}: {g}, {d}\n"
            f"twice: {a}, pair, {a.upper()}\n"
            f"keep: \\{c}, {d}\n"
        )
        with open(inst.aliases, "w") as f:
            f.write(text)
        cls.newaliases = inst.run("newaliases", [])
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def send(self, to, subject, body="the body\n"):
        p = self.inst.inject(["-f", self.eve.address] + (to if isinstance(to, list) else [to]),
                             f"Subject: {subject}\n\n{body}")
        self.assertEqual(p.returncode, 0, p.stderr)

    def addr(self, local):
        return f"{local}@{self.inst.me}"

    def assert_got(self, user, subject):
        path = find_message(self.inst, user.maildir, f"Subject: {subject}\n")
        msg = read_message(path)
        self.assertEqual(msg["Subject"], subject)
        return msg

    def test_newaliases_compiled_the_file(self):
        p = self.newaliases
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"19 aliases in {self.inst.aliases}.cdb", p.stdout.decode())
        # The circle loopa -> loopb -> loopa is worth a warning, not an error.
        self.assertIn("warning: a loop", p.stderr.decode())
        self.assertIn("loopa", p.stderr.decode())

    def test_one_target(self):
        self.send(self.addr("single"), "to single")
        msg = self.assert_got(self.alice, "to single")
        self.assertEqual(msg["Return-Path"], f"<{self.eve.address}>")
        self.inst.wait_queue_empty()

    def test_several_targets_on_a_line(self):
        self.send(self.addr("pair"), "to pair")
        self.assert_got(self.alice, "to pair")
        self.assert_got(self.bob, "to pair")
        self.inst.wait_queue_empty()

    def test_continuation_lines(self):
        self.send(self.addr("long"), "to long")
        for u in (self.alice, self.bob, self.carol):
            self.assert_got(u, "to long")
        self.inst.wait_queue_empty()

    def test_quoted_name(self):
        self.send(self.addr("quoted"), "to quoted")
        self.assert_got(self.bob, "to quoted")
        self.inst.wait_queue_empty()

    def test_quoted_name_with_a_space(self):
        # "x y": carol is addressed as "x y"@host (RFC 5321 quoting).
        before = len(maildir_files(self.eve.maildir))
        self.send(self.addr('"x y"'), "to x y")
        self.assert_got(self.carol, "to x y")
        self.inst.wait_queue_empty()
        self.assertEqual(len(maildir_files(self.eve.maildir)), before, "no bounce to the sender")

    def test_program(self):
        self.send(self.addr("runit"), "to a program", "piped body\n")
        path = os.path.join(self.out, "piped")
        wait_for(lambda: os.path.exists(path) and b"piped body" in open(path, "rb").read(), 20,
                 "the program's output\n" + self.inst.log()[-2000:])
        self.inst.wait_queue_empty()
        with open(path) as f:
            text = f.read()
        self.assertIn("Subject: to a program\n", text)
        self.assertTrue(text.endswith("\npiped body\n"), text)
        self.assertEqual(os.stat(path).st_uid, pwd.getpwnam("postalias").pw_uid, "runs as the alias user")

    def test_quoted_program_with_a_comma(self):
        self.send(self.addr("quotedprog"), "to a quoted program")
        path = os.path.join(self.out, "quoted, with a comma")
        wait_for(lambda: os.path.exists(path) and b"to a quoted program" in open(path, "rb").read(), 20,
                 "the quoted program's output\n" + self.inst.log()[-2000:])
        self.inst.wait_queue_empty()

    def test_file(self):
        box = os.path.join(self.out, "aliasbox")
        self.send(self.addr("tofile"), "to a file", "mbox body\n")
        wait_for(lambda: os.path.exists(box) and open(box, "rb").read().endswith(b"mbox body\n\n"), 20,
                 "the mbox\n" + self.inst.log()[-2000:])
        self.inst.wait_queue_empty()
        mb = mailbox.mbox(box, create=False)
        try:
            msgs = list(mb)
        finally:
            mb.close()
        self.assertEqual([m["Subject"] for m in msgs], ["to a file"])
        self.assertTrue(msgs[0].get_from().startswith(self.eve.address + " "), msgs[0].get_from())
        self.assertEqual(msgs[0]["Return-Path"], f"<{self.eve.address}>")

    def test_include_file(self):
        self.send(self.addr("incl"), "to the include list")
        self.assert_got(self.alice, "to the include list")
        self.assert_got(self.bob, "to the include list")
        self.inst.wait_queue_empty()

    def test_aliases_of_aliases(self):
        self.send(self.addr("chain1"), "through a chain")
        self.assert_got(self.alice, "through a chain")
        self.assert_got(self.bob, "through a chain")
        self.inst.wait_queue_empty()

    def test_names_are_case_insensitive(self):
        # LIST was written in capitals, pair in lower case; CHAIN2 names PAIR.
        self.send(self.addr("CHAIN2"), "chain in capitals")
        self.assert_got(self.alice, "chain in capitals")
        self.assert_got(self.bob, "chain in capitals")
        self.send(self.addr("SiNgLe"), "single in mixed case")
        self.assert_got(self.alice, "single in mixed case")
        self.inst.wait_queue_empty()

    def test_owner_is_the_envelope_sender_and_gets_the_bounce(self):
        inst = self.inst
        before_eve = len(maildir_files(self.eve.maildir))
        self.send(self.addr("list"), "to the list")
        msg = self.assert_got(self.alice, "to the list")
        self.assertEqual(msg["Return-Path"], f"<owner-list@{inst.me}>")
        # carol-nope fails: the bounce goes to owner-list, i.e. dave.
        path = find_message(inst, self.dave.maildir, f"{self.carol.name}-nope@{inst.me}")
        bounce = read_message(path)
        self.assertEqual(bounce["Return-Path"], "<>")
        parts = report_parts(bounce)
        self.assertIn("carol-nope is closed", parts[0].get_content())
        status = parts[1].as_string()
        self.assertIn(f"Final-Recipient: rfc822; {self.carol.name}-nope@{inst.me}", status)
        self.assertIn("Status: 5.2.1", status)
        inst.wait_queue_empty()
        self.assertEqual(len(maildir_files(self.eve.maildir)), before_eve, "the original sender gets no bounce")

    def test_loop_bounces(self):
        inst = self.inst
        self.send(self.addr("loopa"), "into the loop")
        path = find_message(inst, self.eve.maildir, f"Final-Recipient: rfc822; loopa@{inst.me}")
        parts = report_parts(read_message(path))
        text = parts[0].get_content()
        self.assertIn("loop", text)
        self.assertIn("loopa", text)
        self.assertIn("loopb", text)
        self.assertIn("Status: 5.", parts[1].as_string())
        inst.wait_queue_empty()

    def test_alias_to_itself_plus_another_reaches_both(self):
        # helpdesk -> GUS, and the alias GUS: GUS, DAVE: GUS is a real
        # user, so he gets his copy (and DAVE his) instead of a loop.
        inst = self.inst
        before_eve = len(maildir_files(self.eve.maildir))
        self.send(self.addr("helpdesk"), "to the helpdesk")
        self.assert_got(self.gus, "to the helpdesk")
        self.assert_got(self.dave, "to the helpdesk")
        inst.wait_queue_empty()
        self.assertEqual(subjects(self.gus.maildir).count("to the helpdesk"), 1)
        self.assertEqual(subjects(self.dave.maildir).count("to the helpdesk"), 1)
        self.assertEqual(len(maildir_files(self.eve.maildir)), before_eve, "no bounce")

    def test_a_person_named_twice_gets_one_copy(self):
        # twice: ALICE, pair (ALICE, BOB), ALICE in capitals: as sendmail
        # and Postfix do, the expansion drops the duplicates.
        self.send(self.addr("twice"), "named twice")
        self.assert_got(self.alice, "named twice")
        self.assert_got(self.bob, "named twice")
        self.inst.wait_queue_empty()
        self.assertEqual(subjects(self.alice.maildir).count("named twice"), 1, "one copy for alice")
        self.assertEqual(subjects(self.bob.maildir).count("named twice"), 1, "one copy for bob")

    def test_backslash_user_is_not_aliased_again(self):
        self.send(self.addr("keep"), "keep a copy")
        self.assert_got(self.carol, "keep a copy")
        self.assert_got(self.dave, "keep a copy")
        self.inst.wait_queue_empty()

    def test_unknown_name_bounces_5_1_1(self):
        inst = self.inst
        self.send(self.addr("nosuchname"), "to nobody")
        path = find_message(inst, self.eve.maildir, f"Final-Recipient: rfc822; nosuchname@{inst.me}")
        parts = report_parts(read_message(path))
        self.assertIn(f"nosuchname@{inst.me}", parts[0].get_content())
        self.assertIn("no mailbox here by that name", parts[0].get_content())
        self.assertIn("Status: 5.1.1", parts[1].as_string())
        self.assertIn("Action: failed", parts[1].as_string())
        inst.wait_queue_empty()

    def test_z_bad_file_is_reported_and_the_old_database_kept(self):
        inst = self.inst
        db = inst.aliases + ".cdb"
        with open(inst.aliases) as f:
            good = f.read()
        with open(db, "rb") as f:
            old_db = f.read()
        bad = ("# line 1: a comment\n"
               f"fine: {self.alice.name}\n"
               "this line has no colon\n"
               f"other: {self.bob.name}\n"
               "broken: \"|unterminated quote\n"
               f"single: {self.bob.name}\n")
        try:
            with open(inst.aliases, "w") as f:
                f.write(bad)
            p = inst.run("newaliases", [])
            err = p.stderr.decode()
            self.assertEqual(p.returncode, 100, err)
            self.assertRegex(err, r"line 3: .*colon")
            self.assertRegex(err, r"line 5: .*unterminated quote")
            self.assertNotRegex(err, r"line [1246]:")
            self.assertIn("left unchanged", err)
            with open(db, "rb") as f:
                self.assertEqual(f.read(), old_db, "the old database is left in place")
            # The old database still works: single is still alice, not bob.
            self.send(self.addr("single"), "after a bad newaliases")
            self.assert_got(self.alice, "after a bad newaliases")
            inst.wait_queue_empty()
            self.assertNotIn("after a bad newaliases", subjects(self.bob.maildir))
        finally:
            with open(inst.aliases, "w") as f:
                f.write(good)
            self.assertEqual(inst.run("newaliases", []).returncode, 0)


class DefaultAliases(unittest.TestCase):
    """The aliases file make setup installs, as an admin finds it."""

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance()
        cls.jo = inst.add_user("jo")
        inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()

    def test_postmaster_root_and_abuse(self):
        inst, jo = self.inst, self.jo
        alias_maildir = os.path.join(inst.alias_home, "Maildir")
        with open(inst.aliases) as f:
            installed = f.read()
        self.assertIn("\npostmaster: root\n", installed)
        self.assertIn("\nabuse: postmaster\n", installed)

        # Root has no entry yet: postmaster's mail waits in alias/Maildir.
        before = len(maildir_files(alias_maildir))
        p = inst.inject(["-f", jo.address, f"postmaster@{inst.me}"], "Subject: for the postmaster\n\nx\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        path = find_message(inst, alias_maildir, "Subject: for the postmaster")
        self.assertEqual(read_message(path)["Return-Path"], f"<{jo.address}>")
        inst.wait_queue_empty()
        self.assertEqual(len(maildir_files(alias_maildir)), before + 1)
        self.assertEqual(maildir_files(jo.maildir), [])

        # root: jo, and newaliases: postmaster, root, abuse reach jo.
        with open(inst.aliases, "a") as f:
            f.write(f"root: {jo.name}\n")
        p = inst.run("newaliases", [])
        self.assertEqual(p.returncode, 0, p.stderr)
        for i, to in enumerate(["postmaster", "root", "abuse", "PostMaster", "ROOT", "mailer-daemon"]):
            p = inst.inject([f"{to}@{inst.me}"], f"Subject: classic {i} {to}\n\nx\n")
            self.assertEqual(p.returncode, 0, p.stderr)
        inst.wait_maildir(jo.maildir, 6)
        inst.wait_queue_empty()
        got = sorted(subjects(jo.maildir))
        self.assertEqual(got, sorted(["classic 0 postmaster", "classic 1 root", "classic 2 abuse",
                                      "classic 3 PostMaster", "classic 4 ROOT", "classic 5 mailer-daemon"]))
        self.assertEqual(len(maildir_files(alias_maildir)), before + 1, "nothing more in alias/Maildir")


if __name__ == "__main__":
    unittest.main()
