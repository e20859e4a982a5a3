"""Errors that say why: each message an administrator meets when a control
file, the queue, the rights or the conf-home are wrong names the file (and
the bad value or the system's error), with real programs on a real
instance."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import IS_ROOT, ServerTestCase, SRC, Instance, conf_user, make_env, san_args


def run_start(inst, timeout=60):
    """start as the rc runs it, its log on stdout; what it printed. send
    dies at once here, and its helpers follow when their pipes close."""
    p = subprocess.Popen([os.path.join(inst.bin, "start"), inst.delivery], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                         env=make_env(), cwd="/")
    try:
        out, _ = p.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    return p.returncode, out.decode(errors="replace")


class ErrorMessages(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=False)

    def control(self, name, text):
        path = os.path.join(self.inst.home, "control", name)
        self.inst.control(name, text)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))

    def test_send_names_the_malformed_control_file_and_value(self):
        self.control("concurrencyremote", "12x\n")
        code, out = run_start(self.inst)
        self.assertNotEqual(code, 0, out)
        self.assertIn('send: fatal: control/concurrencyremote holds "12x", which is not a number', out)

    def test_send_says_a_concurrency_of_zero_is_refused(self):
        self.control("concurrencylocal", "0\n")
        code, out = run_start(self.inst)
        self.assertIn("send: fatal: control/concurrencylocal holds 0; it must be at least 1", out)

    def smtpd(self):
        env = make_env()
        env["TCPREMOTEIP"] = "127.0.0.1"
        return subprocess.run([os.path.join(self.inst.bin, "smtpd")], input=b"QUIT\r\n", capture_output=True,
                              env=env, cwd="/", timeout=60)

    def test_smtpd_names_the_malformed_control_file_and_value(self):
        for name in ("databytes", "timeoutsmtpd", "maxrcpt", "deadlinesmtpd"):
            with self.subTest(file=name):
                self.control(name, "lots\n")
                p = self.smtpd()
                self.assertTrue(p.stdout.startswith(b"421 4.3.0 "), p.stdout)
                self.assertIn(f'smtpd: fatal: control/{name} holds "lots", which is not a number'.encode(), p.stderr)
                os.unlink(os.path.join(self.inst.home, "control", name))

    def test_smtpd_names_the_unreadable_control_file_and_the_error(self):
        for name in ("rcpthosts", "badmailfrom", "smtpgreeting"):
            with self.subTest(file=name):
                path = os.path.join(self.inst.home, "control", name)
                saved = None
                if os.path.exists(path):
                    saved = open(path, "rb").read()
                    os.unlink(path)
                os.mkdir(path)  # unreadable as a file, even for root
                try:
                    p = self.smtpd()
                finally:
                    os.rmdir(path)
                    if saved is not None:
                        with open(path, "wb") as f:
                            f.write(saved)
                self.assertTrue(p.stdout.startswith(b"421 "), p.stdout)
                self.assertIn(f"smtpd: fatal: unable to read control/{name}: Is a directory".encode(), p.stderr)

    def test_start_names_the_queue_and_the_error(self):
        queue = os.path.join(self.inst.home, "queue")
        os.rename(queue, queue + ".away")
        try:
            code, out = run_start(self.inst)
        finally:
            os.rename(queue + ".away", queue)
        self.assertEqual(code, 111, out)
        self.assertIn(f"start: fatal: unable to chdir to the queue {queue}: No such file or directory", out)

    def test_a_build_for_a_missing_conf_home_stops_and_says_so(self):
        """newaliases built for a home that is not there must not fall back
        to /etc/aliases: it stops before reading or writing anything."""
        missing = tempfile.mkdtemp(prefix="postern-nohome-")
        os.rmdir(missing)
        inst_dir = os.path.join(SRC, "build", "inst", missing.replace("/", "_") + "-single")
        self.addCleanup(shutil.rmtree, inst_dir, ignore_errors=True)
        for d in glob.glob(inst_dir + "-*"):
            self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        suffix = "-asan" if san_args() else ""
        targets = [f"{inst_dir}{suffix}/{p}" for p in ("newaliases", "mailq")]
        b = subprocess.run(["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={missing}", "SINGLE=1"]
                           + san_args() + [os.path.relpath(t, SRC) for t in targets],
                           capture_output=True, text=True, timeout=900)
        self.assertEqual(b.returncode, 0, b.stdout + b.stderr)
        aliases_cdb = "/etc/aliases.cdb"
        before = os.stat(aliases_cdb).st_mtime_ns if os.path.exists(aliases_cdb) else None
        for t in targets:
            with self.subTest(program=os.path.basename(t)):
                p = subprocess.run([t], capture_output=True, text=True, env=make_env(), cwd="/", timeout=60)
                self.assertEqual(p.returncode, 111, p.stdout + p.stderr)
                self.assertIn(f"fatal: conf-home {missing} does not exist: No such file or directory", p.stderr)
        after = os.stat(aliases_cdb).st_mtime_ns if os.path.exists(aliases_cdb) else None
        self.assertEqual(before, after, "/etc/aliases.cdb must not be rebuilt")


@unittest.skipUnless(IS_ROOT, "needs root: a multi-user instance and a second user")
class NewaliasesRights(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(multi=True)
        try:
            cls.user = cls.inst.add_user("nalias")
        except Exception:
            cls.inst.cleanup()
            raise

    def test_newaliases_as_a_user_says_who_may_run_it_and_why(self):
        p = self.inst.run("newaliases", [], user=self.user)
        self.assertEqual(p.returncode, 111, p.stdout + p.stderr)
        err = p.stderr.decode()
        self.assertIn(f"newaliases: fatal: unable to create a new {self.inst.aliases}.cdb: Permission denied; "
                      f"newaliases must run as root or as {conf_user('alias')}", err)
        # As root it works, and says what it did.
        ok = self.inst.run("newaliases", [])
        self.assertEqual(ok.returncode, 0, ok.stderr)


if __name__ == "__main__":
    unittest.main()
