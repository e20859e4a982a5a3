"""The systemd units as make setup installs them (conf-home/boot): every
service that has a daemontools run script has a socket-activated pair
(NAME.socket with Accept=yes and a per-source connection limit, and
NAME@.service), beside postern.service; each names only programs that
exist, and systemd-analyze verify finds nothing to say about any of them.
(Verify loads the files without a running systemd; nothing is started.)"""
import glob
import os
import shutil
import subprocess
import unittest

from harness import Instance, conf_user


def unit_settings(path):
    """{section: {key: [values]}} of a unit file."""
    settings, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = settings.setdefault(line.strip("[]"), {})
            else:
                key, _, value = line.partition("=")
                section.setdefault(key.strip(), []).append(value.strip())
    return settings


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
class SystemdUnits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance()
        cls.boot = os.path.join(cls.inst.home, "boot")

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def units(self, pattern):
        return sorted(glob.glob(os.path.join(self.boot, pattern)))

    def test_every_service_is_socket_activated(self):
        runs = [os.path.basename(p)[:-len("-tcpserver.run")] for p in self.units("*-tcpserver.run")]
        self.assertTrue({"smtpd", "submission", "smtps", "pop3d", "pop3s", "imapd", "imaps"} <= set(runs), runs)
        for name in runs:
            socket = os.path.join(self.boot, f"{name}.socket")
            service = os.path.join(self.boot, f"{name}@.service")
            self.assertTrue(os.path.exists(socket) and os.path.exists(service), f"{name}: no socket unit pair")
            s = unit_settings(socket)["Socket"]
            self.assertEqual(s.get("Accept"), ["yes"], name)
            self.assertTrue(s.get("ListenStream"), name)
            self.assertGreater(int(s["MaxConnectionsPerSource"][0]), 0, name)
            self.assertGreater(int(s["MaxConnections"][0]), int(s["MaxConnectionsPerSource"][0]), name)
            svc = unit_settings(service)["Service"]
            self.assertEqual(svc.get("StandardInput"), ["socket"], name)

    def test_units_name_this_install(self):
        for path in self.units("*.socket") + self.units("*.service"):
            with open(path) as f:
                text = f.read()
            self.assertNotIn("@HOME@", text, path)
            self.assertNotRegex(text, r"@[A-Z_]+@", path)
            for value in unit_settings(path).get("Service", {}).get("ExecStart", []):
                for word in value.lstrip("-@:+!").split():
                    if word.startswith("/") and "/bin/" in word:
                        self.assertTrue(os.access(word, os.X_OK), f"{path}: {word} is not a program")
        # smtpd runs as conf-users' daemon user, whatever it is called.
        with open(os.path.join(self.boot, "smtpd@.service")) as f:
            self.assertIn(f"-u {conf_user('daemon') if self.inst.multi else os.popen('id -un').read().strip()} ",
                          f.read())

    def test_systemd_analyze_verify(self):
        units = self.units("*.socket") + self.units("*.service")
        # A template is verified through an instance of it, as systemd
        # would start it for a connection.
        work = os.path.join(self.inst.tmp, "units")
        os.mkdir(work)
        names = []
        for path in units:
            name = os.path.basename(path)
            shutil.copy(path, os.path.join(work, name))
            names.append(name.replace("@.service", "@1.service"))
            if name.endswith("@.service"):
                shutil.copy(path, os.path.join(work, names[-1]))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + [os.path.join(work, n) for n in names],
                           capture_output=True, text=True, timeout=120, cwd=work)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr.strip(), "", "systemd-analyze verify has warnings")


if __name__ == "__main__":
    unittest.main()
