"""pop3d end to end: a real tcpserver running bin/pop3d as root (the
simplest line, `tcpserver 0 110 pop3d`), clients from Python's poplib,
curl and fetchmail, users from the shadow file and from mailauth."""
import base64
import glob
import hashlib
import os
import poplib
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import IS_ROOT, Instance, TcpServer, free_port, maildir_files, make_env, remove_test_users, wait_for

VIRTUAL_UID = 54321




class Pop3Server(TcpServer):
    """tcpserver -R -H 127.0.0.1 PORT bin/pop3d ARGS, run as whoever runs
    the tests (root in CI)."""

    def __init__(self, inst, args=()):
        super().__init__(inst, "pop3d", args)

    def client(self):
        return poplib.POP3("127.0.0.1", self.port, timeout=20)


def status_ids(pid):
    """The real, effective, saved and filesystem uids of a process."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def processes_running(path):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") == path:
                out.append(int(d))
        except OSError:
            pass
    return out


class Pop3d(unittest.TestCase):
    """Multi-user when the tests run as root (as in CI)."""
    MULTI = None

    @classmethod
    def setUpClass(cls):
        cls.inst = inst = Instance(multi=cls.MULTI)
        cls.multi = inst.multi
        cls.alice = inst.add_user("alice")  # a system account
        cls.bob = inst.add_user("bob")      # a system account with a mailauth entry
        # A mailauth user with no Unix login: uid/gid/home in the entry.
        cls.vhome = os.path.join(inst.tmp, "virtual", "vera")
        vuid = VIRTUAL_UID if cls.multi else os.getuid()
        for sub in ("", "/Maildir", "/Maildir/new", "/Maildir/cur", "/Maildir/tmp"):
            os.makedirs(cls.vhome + sub, exist_ok=True)
            os.chown(cls.vhome + sub, vuid, vuid)
        os.chmod(os.path.dirname(cls.vhome), 0o755)
        r = cls.mailauth(["add", "-d", cls.vhome, "vera"], "vera-pw\n")
        assert r.returncode == 0, r.stderr
        if cls.multi:
            cls.chpasswd(cls.alice.name, "alice-unix")
            cls.chpasswd(cls.bob.name, "bob-unix")
            r = cls.mailauth(["add", cls.bob.name], "bob-mail\n")
            assert r.returncode == 0, r.stderr
            r = cls.mailauth(["apop", cls.bob.name], "tanstaaf\n")
            assert r.returncode == 0, r.stderr
        r = cls.mailauth(["apop", "vera"], "vera-apop\n")
        assert r.returncode == 0, r.stderr
        inst.start()
        cls.server = Pop3Server(inst)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()

    @classmethod
    def mailauth(cls, args, stdin=""):
        return cls.inst.run("mailauth", args, stdin.encode())

    @staticmethod
    def chpasswd(name, password):
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n".encode(), check=True)

    def need_multi(self):
        if not self.multi:
            self.skipTest("needs root: system accounts and uid changes")

    # -- helpers -----------------------------------------------------------
    counter = 0

    def put(self, maildir, text, sub="new", owner=None):
        """Writes a message straight into a Maildir, as a delivery would."""
        Pop3d.counter += 1
        name = f"{int(time.time())}.M{Pop3d.counter}P{os.getpid()}.test,S={len(text.encode())}"
        path = os.path.join(maildir, sub, name)
        with open(path, "w") as f:
            f.write(text)
        if owner is not None:
            os.chown(path, owner, owner)
        elif self.multi:
            st = os.stat(maildir)
            os.chown(path, st.st_uid, st.st_gid)
        return name

    def clear(self, maildir):
        for p in glob.glob(os.path.join(maildir, "new", "*")) + glob.glob(os.path.join(maildir, "cur", "*")):
            os.unlink(p)

    def login(self, user, password):
        c = self.server.client()
        c.user(user)
        c.pass_(password)
        return c

    def all_files(self, maildir):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(maildir, "new", "*")) +
                      glob.glob(os.path.join(maildir, "cur", "*")))

    # -- logins -------------------------------------------------------------
    def test_database_files_are_private(self):
        for name in ("mailauth", "mailauth.cdb"):
            st = os.stat(os.path.join(self.inst.home, "users", name))
            self.assertEqual(st.st_mode & 0o777, 0o600, name)
            self.assertEqual(st.st_uid, os.getuid())
        listing = self.mailauth(["list"]).stdout.decode()
        self.assertRegex(listing, r"vera\tpassword,apop\tuid \d+ gid \d+ home ")
        self.assertNotIn("argon2", listing)

    def test_system_account_user_pass(self):
        self.need_multi()
        a = self.alice
        self.clear(a.maildir)
        self.put(a.maildir, "Subject: one\n\nfirst line\n.starts with a dot\n")
        c = self.login(a.name, "alice-unix")
        count, size = c.stat()
        self.assertEqual(count, 1)
        resp, lines, octets = c.retr(1)
        self.assertEqual(lines, [b"Subject: one", b"", b"first line", b".starts with a dot"])
        # LIST reports the size with CRLF line ends.
        body = "Subject: one\r\n\r\nfirst line\r\n.starts with a dot\r\n"
        self.assertEqual(size, len(body))
        self.assertEqual(c.list(1), f"+OK 1 {len(body)}".encode())
        self.assertTrue(c.quit().startswith(b"+OK"))
        # Seen: moved to cur/ with the S flag at QUIT.
        files = self.all_files(a.maildir)
        self.assertEqual(len(files), 1)
        self.assertTrue(files[0].endswith(":2,S"), files)
        self.assertEqual(glob.glob(os.path.join(a.maildir, "new", "*")), [])

    def test_mailbox_stage_runs_as_the_user(self):
        self.need_multi()
        a = self.alice
        c = self.login(a.name, "alice-unix")
        c.noop()
        mailbox = os.path.join(self.inst.bin, "pop3d-mailbox")
        pids = wait_for(lambda: [p for p in processes_running(mailbox) if status_ids(p)[0] == a.uid], 5,
                        "pop3d-mailbox running as the user")
        for pid in pids:
            self.assertEqual(status_ids(pid), [a.uid] * 4)
        c.quit()

    def test_mailauth_user_without_unix_login(self):
        self.clear(os.path.join(self.vhome, "Maildir"))
        self.put(os.path.join(self.vhome, "Maildir"), "Subject: for vera\n\nhi\n",
                 owner=VIRTUAL_UID if self.multi else None)
        c = self.login("vera", "vera-pw")
        self.assertEqual(c.stat()[0], 1)
        self.assertIn(b"Subject: for vera", c.retr(1)[1])
        c.quit()

    def test_commands_sent_before_the_login_answer_are_refused(self):
        """PIPELINING is not offered: a command sent with PASS, before its
        answer, would be lost between the stages; it is refused instead and
        the session goes on."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"USER vera\r\nPASS vera-pw\r\nSTAT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))  # USER
        self.assertIn(b"do not send commands before the answer", f.readline())
        s.sendall(b"QUIT\r\n")
        s.close()
        c = self.login("vera", "vera-pw")  # and a proper login still works
        c.quit()

    def test_command_rules_in_both_stages(self):
        """One table of commands: where each is allowed and how many
        arguments it takes, the same replies before and after the login."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        f = s.makefile("rb")

        def cmd(line):
            s.sendall(line.encode() + b"\r\n")
            return f.readline().decode().strip()

        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertEqual(cmd("STAT"), "-ERR log in first")
        self.assertEqual(cmd("XYZZY"), "-ERR unknown command")
        self.assertEqual(cmd("USER"), "-ERR wrong number of arguments")
        self.assertEqual(cmd("QUIT now"), "-ERR wrong number of arguments")  # RFC 1939: no argument
        self.assertTrue(cmd("USER vera").startswith("+OK"))
        self.assertTrue(cmd("PASS vera-pw").startswith("+OK"))
        self.assertEqual(cmd("USER vera"), "-ERR already logged in")
        self.assertEqual(cmd("XYZZY"), "-ERR unknown command")
        self.assertEqual(cmd("RETR"), "-ERR wrong number of arguments")
        self.assertEqual(cmd("TOP 1"), "-ERR wrong number of arguments")
        self.assertEqual(cmd("NOOP"), "+OK")
        self.assertTrue(cmd("QUIT").startswith("+OK"))
        s.close()

    def test_mailauth_entry_replaces_the_login_password(self):
        self.need_multi()
        c = self.login(self.bob.name, "bob-mail")
        c.quit()
        c = self.server.client()
        c.user(self.bob.name)
        with self.assertRaises(poplib.error_proto):
            c.pass_("bob-unix")
        c.quit()

    def test_apop(self):
        c = self.server.client()
        ts = re.search(rb"<[^>]+>", c.getwelcome()).group(0)
        digest = hashlib.md5(ts + b"vera-apop").hexdigest()
        resp = c._shortcmd(f"APOP vera {digest}")
        self.assertTrue(resp.startswith(b"+OK"))
        c.quit()
        # poplib's own apop(), with the secret set by mailauth apop.
        if self.multi:
            c = self.server.client()
            self.assertTrue(c.apop(self.bob.name, "tanstaaf").startswith(b"+OK"))
            c.quit()
        c = self.server.client()
        with self.assertRaises(poplib.error_proto):
            c.apop("vera", "wrong")
        c.quit()

    def test_auth_plain(self):
        c = self.server.client()
        self.assertIn("SASL", c.capa())
        token = base64.b64encode(b"\0vera\0vera-pw").decode()
        self.assertTrue(c._shortcmd("AUTH PLAIN " + token).startswith(b"+OK"))
        self.assertTrue(c.stat()[0] >= 0)
        c.quit()
        # Without an initial response: the server asks with "+ ".
        c = self.server.client()
        c._putcmd("AUTH PLAIN")
        self.assertTrue(c._getline()[0].startswith(b"+"))
        self.assertTrue(c._shortcmd(token).startswith(b"+OK"))
        c.quit()
        if self.multi:
            c = self.server.client()
            token = base64.b64encode(b"\0" + self.alice.name.encode() + b"\0alice-unix").decode()
            self.assertTrue(c._shortcmd("AUTH PLAIN " + token).startswith(b"+OK"))
            c.quit()

    def test_wrong_password_is_slowed_and_logged(self):
        c = self.server.client()
        c.user("vera")
        started = time.time()
        with self.assertRaises(poplib.error_proto) as e:
            c.pass_("not-the-password")
        self.assertGreaterEqual(time.time() - started, 1.5)
        self.assertIn(b"[AUTH]", e.exception.args[0])
        # The same connection may try again, and succeed.
        c.user("vera")
        c.pass_("vera-pw")
        c.quit()
        wait_for(lambda: "login failed for vera from 127.0.0.1" in self.server.log(), 5,
                 "the failure in the log:\n" + self.server.log())
        # An unknown user is answered the same way.
        c = self.server.client()
        c.user("nosuchuser")
        with self.assertRaises(poplib.error_proto):
            c.pass_("x")
        c.quit()

    def test_disabled_mailauth_user(self):
        self.assertEqual(self.mailauth(["disable", "vera"]).returncode, 0)
        try:
            c = self.server.client()
            c.user("vera")
            with self.assertRaises(poplib.error_proto):
                c.pass_("vera-pw")
            c.quit()
            self.assertIn("disabled", self.mailauth(["list"]).stdout.decode())
        finally:
            self.assertEqual(self.mailauth(["enable", "vera"]).returncode, 0)
        self.login("vera", "vera-pw").quit()

    def test_root_refused(self):
        c = self.server.client()
        c.user("root")
        with self.assertRaises(poplib.error_proto):
            c.pass_("whatever")
        c.quit()
        self.assertIn("root logins are refused", self.server.log())
        # mailauth will not make an entry that reads mail as root.
        r = self.mailauth(["add", "-n", "-d", "/root", "-u", "0", "-g", "0", "toor"]) if self.multi else None
        if r is not None:
            self.assertNotEqual(r.returncode, 0)
        if not self.multi:
            return
        # A second uid-0 account with a known password is refused too.
        login = f"pt{os.getpid() % 10000}toor"
        subprocess.run(["useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", "/bin/sh", login],
                       check=True, capture_output=True)
        try:
            self.chpasswd(login, "toor-pw")
            c = self.server.client()
            c.user(login)
            with self.assertRaises(poplib.error_proto):
                c.pass_("toor-pw")
            c.quit()
            self.assertIn("uid 0", self.server.log())
        finally:
            # -f: a uid-0 account is "in use" by every root process, and
            # plain userdel refuses to remove it.
            subprocess.run(["userdel", "-f", login], capture_output=True)

    # -- the mailbox --------------------------------------------------------
    def test_uidl_stable_across_sessions(self):
        md = os.path.join(self.vhome, "Maildir")
        self.clear(md)
        owner = VIRTUAL_UID if self.multi else None
        n1 = self.put(md, "Subject: a\n\na\n", owner=owner)
        n2 = self.put(md, "Subject: b\n\nb\n", owner=owner)
        c = self.login("vera", "vera-pw")
        first = c.uidl()[1]
        c.quit()
        c = self.login("vera", "vera-pw")  # now in cur/, renamed
        second = c.uidl()[1]
        self.assertEqual(c.uidl(1), b"+OK " + first[0])
        c.retr(1)
        c.quit()
        c = self.login("vera", "vera-pw")  # message 1 now has the S flag
        third = c.uidl()[1]
        c.quit()
        self.assertEqual(first, second)
        self.assertEqual(first, third)
        ids = {line.split()[1].decode() for line in first}
        self.assertEqual(ids, {n1, n2})

    def test_top(self):
        md = os.path.join(self.vhome, "Maildir")
        self.clear(md)
        self.put(md, "Subject: top\nFrom: x@y\n\nline 1\n.line 2\nline 3\n", owner=VIRTUAL_UID if self.multi else None)
        c = self.login("vera", "vera-pw")
        self.assertEqual(c.top(1, 0)[1], [b"Subject: top", b"From: x@y", b""])
        self.assertEqual(c.top(1, 2)[1], [b"Subject: top", b"From: x@y", b"", b"line 1", b".line 2"])
        self.assertEqual(len(c.top(1, 100)[1]), 6)
        with self.assertRaises(poplib.error_proto):
            c.top(2, 0)
        c.quit()
        # TOP is not a retrieval: no S flag.
        self.assertTrue(self.all_files(md)[0].endswith(":2,"))

    def test_deletion_only_at_quit(self):
        md = os.path.join(self.vhome, "Maildir")
        self.clear(md)
        owner = VIRTUAL_UID if self.multi else None
        for i in range(3):
            self.put(md, f"Subject: m{i}\n\nbody {i}\n", owner=owner)
        # Dropped connection after DELE: nothing deleted.
        c = self.login("vera", "vera-pw")
        c.dele(1)
        c.dele(2)
        self.assertEqual(c.stat()[0], 1)
        c.sock.close()
        time.sleep(0.5)
        self.assertEqual(len(self.all_files(md)), 3)
        # RSET undoes DELE.
        c = self.login("vera", "vera-pw")
        c.dele(1)
        c.rset()
        self.assertEqual(c.stat()[0], 3)
        c.dele(2)
        with self.assertRaises(poplib.error_proto):
            c.retr(2)
        self.assertEqual(len(self.all_files(md)), 3)  # not yet
        self.assertTrue(c.quit().startswith(b"+OK"))
        self.assertEqual(len(self.all_files(md)), 2)
        c = self.login("vera", "vera-pw")
        subjects = [c.top(i, 0)[1][0] for i in (1, 2)]
        self.assertEqual(subjects, [b"Subject: m0", b"Subject: m2"])
        c.quit()

    def test_delivery_during_a_session_is_not_shown(self):
        self.need_multi()
        a = self.alice
        self.clear(a.maildir)
        self.put(a.maildir, "Subject: before\n\nx\n")
        c = self.login(a.name, "alice-unix")
        self.assertEqual(c.stat()[0], 1)
        r = self.inst.sendmail([a.name], "Subject: during\n\nnew mail\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.inst.wait_maildir(a.maildir, 1)
        self.assertEqual(c.stat()[0], 1)
        self.assertEqual(len(c.list()[1]), 1)
        with self.assertRaises(poplib.error_proto):
            c.retr(2)
        c.dele(1)
        c.quit()
        c = self.login(a.name, "alice-unix")
        self.assertEqual(c.stat()[0], 1)
        self.assertIn(b"Subject: during", c.retr(1)[1])
        c.quit()

    def test_preauth_stage_is_not_root(self):
        """At the USER prompt: the process reading the socket runs as
        posternd; the root parent is blocked on its private socket."""
        self.need_multi()
        pop3d = os.path.join(self.inst.bin, "pop3d")
        before = set(processes_running(pop3d))
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"USER someone\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        pids = wait_for(lambda: len(set(processes_running(pop3d)) - before) == 2 and
                        set(processes_running(pop3d)) - before, 5, "the two pop3d processes")
        daemon = pwd.getpwnam("posternd")
        by_uid = {}
        for pid in pids:
            by_uid.setdefault(status_ids(pid)[0], []).append(pid)
        self.assertEqual(sorted(by_uid), sorted([0, daemon.pw_uid]))
        child = by_uid[daemon.pw_uid][0]
        parent = by_uid[0][0]
        self.assertEqual(status_ids(child), [daemon.pw_uid] * 4)
        with open(f"/proc/{child}/status") as st:
            groups = [l for l in st if l.startswith("Groups:")][0].split()[1:]
        self.assertEqual([int(g) for g in groups], [daemon.pw_gid])
        # The pre-auth stage waits on the client socket (fd 0); the root
        # parent in recvfrom on its AF_UNIX socket, never on fd 0 or 1.
        if os.uname().machine == "x86_64":
            def syscall(pid):
                with open(f"/proc/{pid}/syscall") as sc:
                    return sc.read().split()
            parent_call = wait_for(lambda: (lambda v: v if v[0] == "45" else None)(syscall(parent)), 5,
                                   "the parent in recvfrom")
            fd = int(parent_call[1], 16)
            self.assertNotIn(fd, (0, 1))
            link = os.readlink(f"/proc/{parent}/fd/{fd}")
            inode = link[len("socket:["):-1]
            with open("/proc/net/unix") as unix:
                inodes = [line.split()[6] for line in unix.read().splitlines()[1:] if len(line.split()) > 6]
            self.assertIn(inode, inodes)
        s.sendall(b"QUIT\r\n")
        s.close()

    # -- other clients ---------------------------------------------------------
    def test_curl(self):
        md = os.path.join(self.vhome, "Maildir")
        self.clear(md)
        self.put(md, "Subject: curl\n\nfetched by curl\n", owner=VIRTUAL_UID if self.multi else None)
        url = f"pop3://127.0.0.1:{self.server.port}/"
        r = subprocess.run(["curl", "-sS", "--max-time", "20", url, "-u", "vera:vera-pw"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^1 \d+")
        r = subprocess.run(["curl", "-sS", "--max-time", "20", url + "1", "-u", "vera:vera-pw"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"fetched by curl", r.stdout)
        r = subprocess.run(["curl", "-sS", "--max-time", "20", url + "1", "-u", "vera:nope"], capture_output=True)
        self.assertNotEqual(r.returncode, 0)

    def test_fetchmail_into_mbox(self):
        md = os.path.join(self.vhome, "Maildir")
        self.clear(md)
        owner = VIRTUAL_UID if self.multi else None
        self.put(md, "From: a@example.org\nSubject: fm1\n\none\n", owner=owner)
        self.put(md, "From: b@example.org\nSubject: fm2\n\ntwo\n", owner=owner)
        work = tempfile.mkdtemp(prefix="fetchmail-", dir=self.inst.tmp)
        mbox = os.path.join(work, "mbox")
        rc = os.path.join(work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.server.port} protocol pop3 auth password\n'
                    f'  user "vera" there with password "vera-pw" is "{pwd.getpwuid(os.getuid()).pw_name}" here\n'
                    f'  mda "/bin/sh -c \'cat >> {mbox}\'"\n'
                    f'  sslproto ""\n')
        os.chmod(rc, 0o600)
        env = make_env()
        env["HOME"] = work
        r = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "--pidfile", os.path.join(work, "pid"),
                            "-i", os.path.join(work, "ids")],
                           capture_output=True, env=env, timeout=60)
        self.assertIn(r.returncode, (0,), r.stdout + r.stderr)
        with open(mbox, "rb") as f:
            data = f.read()
        self.assertIn(b"Subject: fm1", data)
        self.assertIn(b"Subject: fm2", data)
        # fetchmail deletes what it fetched (no "keep").
        self.assertEqual(self.all_files(md), [])


class Pop3dSingleUser(Pop3d):
    """The same in a single-user instance: every stage runs as the invoking
    user, and mailauth users log in. The tests of system accounts and user
    switching have no meaning there and are left out (not skipped)."""
    MULTI = False
    test_system_account_user_pass = None
    test_mailbox_stage_runs_as_the_user = None
    test_mailauth_entry_replaces_the_login_password = None
    test_delivery_during_a_session_is_not_shown = None
    test_preauth_stage_is_not_root = None


if __name__ == "__main__":
    unittest.main()
