"""What make setup finds out about the host: control/me is the fully
qualified name (hostname -f, else the first dotted name of the host in the
hosts file), with a warning when only the short name is known (tools/fqdn);
and the man pages are where man looks (`man -w send` after setup, with a
throwaway copy of man-db's configuration)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import IS_ROOT, SRC, Instance, remove_test_users

FQDN = os.path.join(SRC, "tools", "fqdn")


def fake_hostname(tmp, short, long=None):
    """A directory holding a hostname(1) that answers short, and long to -f
    (short when None)."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "hostname"), "w") as f:
        f.write(f'#!/bin/sh\n[ "$1" = -f ] && {{ echo {long or short}; exit 0; }}\necho {short}\n')
    os.chmod(os.path.join(bindir, "hostname"), 0o755)
    return bindir


class Fqdn(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-fqdn-")
        self.hosts = os.path.join(self.tmp, "hosts")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def fqdn(self, short, long, hosts):
        with open(self.hosts, "w") as f:
            f.write(hosts)
        env = {"PATH": fake_hostname(self.tmp, short, long) + ":/usr/bin:/bin", "HOSTS": self.hosts}
        p = subprocess.run([FQDN], capture_output=True, text=True, env=env, timeout=30)
        return p.returncode, p.stdout.strip()

    def test_hostname_f(self):
        self.assertEqual(self.fqdn("mx", "mx.example.org", ""), (0, "mx.example.org"))

    def test_hosts_file(self):
        hosts = ("127.0.0.1 localhost\n# 127.0.1.1 mx.commented.example mx\n"
                 "10.0.0.9 mxother.example.org mxother\n127.0.1.1 mx mx.example.org mx.example.net\n")
        self.assertEqual(self.fqdn("mx", None, hosts), (0, "mx.example.org"))

    def test_only_a_short_name(self):
        self.assertEqual(self.fqdn("mx", None, "127.0.0.1 localhost\n127.0.0.1 mx\n"), (1, "mx"))


@unittest.skipUnless(IS_ROOT, "man-db's configuration is for a multi-user install, made as root")
class SetupHostAndMan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-setup-host-")
        cls.manconf = os.path.join(cls.tmp, "manpath.config")
        shutil.copy("/etc/manpath.config", cls.manconf)
        with open(cls.manconf, "a") as f:  # an install that is gone
            f.write("# postern\nMANDATORY_MANPATH\t/nonexistent/postern/man\n")
        saved = dict(os.environ)
        os.environ["MANPATH_CONFIG"] = cls.manconf
        os.environ["PATH"] = fake_hostname(cls.tmp, "mx", "mx.example.org") + ":" + os.environ.get("PATH", "/usr/bin:/bin")
        try:
            cls.inst = Instance(multi=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        remove_test_users()
        shutil.rmtree(cls.tmp)

    def test_control_me_is_fully_qualified(self):
        self.assertEqual(self.inst.control_value("me"), "mx.example.org")
        with open(os.path.join(self.inst.home, "control", "locals")) as f:
            self.assertIn("mx.example.org", f.read().split())

    def test_man_finds_the_pages(self):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp}
        p = subprocess.run(["man", "-C", self.manconf, "-w", "send"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), os.path.join(self.inst.home, "man", "man8", "send.8"))
        p = subprocess.run(["man", "-C", self.manconf, "-w", "5", "postern-control"], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.stdout.strip(), os.path.join(self.inst.home, "man", "man5", "postern-control.5"), p.stderr)
        with open(self.manconf) as f:
            text = f.read()
        self.assertNotIn("/nonexistent/postern/man", text, "the line of a removed install stays")
        self.assertEqual(text.count(self.inst.home + "/man"), 1)


if __name__ == "__main__":
    unittest.main()
