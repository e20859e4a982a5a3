"""The system tests' harness: a real postern instance in a throwaway
conf-home, built and installed with `make setup`, started and stopped by
the test, with helpers to make users, inject mail and wait for it.

Multi-user instances (real users, setuid queue) need root; the harness
makes single-user instances otherwise. Every process an instance starts is
in its own process group and is killed when the instance is stopped."""
import email
import email.policy
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IS_ROOT = os.geteuid() == 0
_users_made = []


def make_env():
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/root" if IS_ROOT else os.environ.get("HOME", "/tmp")}
    if os.environ.get("POSTERN_SAN"):
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def sh(*args, check=True):
    """Runs a command (ip, ss, ...), its output as text; raises when it
    fails and check is set."""
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p


def free_port():
    """A loopback port nothing listens on now."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TcpServer:
    """A real tcpserver (ucspi-tcp) on a free loopback port running one of
    the instance's programs, in its own process group; its stderr (the
    program's log) goes to a file. options go before the address."""

    def __init__(self, inst, program, args=(), options=(), port=None):
        self.inst = inst
        self.port = port or free_port()
        name = os.path.basename(program[0] if isinstance(program, (list, tuple)) else program)
        self.logfile = os.path.join(inst.tmp, f"{name}-{self.port}.log")
        argv = list(program) if isinstance(program, (list, tuple)) else [os.path.join(inst.bin, program)]
        cmd = ["/usr/bin/tcpserver", "-R", "-H", "-b", "200"] + list(options) + ["127.0.0.1", str(self.port)] + argv + list(args)
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=make_env(), cwd="/")
        log.close()
        wait_for(self._listening, 10, f"tcpserver on port {self.port}")

    def _listening(self):
        return port_listening(self.port)

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class TlsServer(TcpServer):
    """A TcpServer running `tlsd [-i] [-u user] program args`: program is
    the name of one of the instance's programs or a path (a test's own
    script). tcpserver runs as the test does: root for a multi-user
    instance, so tlsd becomes the TLS user and program runs as user
    (a name or a User) or, without one, as root."""

    def __init__(self, inst, program, args=(), implicit=False, user=None, options=()):
        prog = program if os.path.isabs(program) else os.path.join(inst.bin, program)
        argv = [os.path.join(inst.bin, "tlsd")] + (["-i"] if implicit else [])
        if user is not None:
            argv += ["-u", getattr(user, "name", user)]
        self.implicit = implicit
        super().__init__(inst, argv + [prog], args, options)


def san_args():
    """make arguments for the sanitizer builds (make test-asan)."""
    return ["SAN=1"] if os.environ.get("POSTERN_SAN") else []


def port_listening(port):
    """Whether something accepts connections on 127.0.0.1:port."""
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def maildir_files(maildir, sub="new"):
    """The messages in a Maildir folder, oldest first (by the time they
    were written: Maildir names do not sort by time)."""
    def key(path):
        try:
            return (os.stat(path).st_mtime_ns, path)
        except FileNotFoundError:
            return (0, path)
    return sorted(glob.glob(os.path.join(maildir, sub, "*")), key=key)


def read_message(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def can_open_as(uid, gid, path):
    """Whether a process of uid and gid (no other groups) may open path
    for reading (list it, for a directory); raises RuntimeError if the
    check itself fails."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            if os.path.isdir(path):
                os.listdir(path)
            else:
                open(path).close()
            os._exit(0)
        except PermissionError:
            os._exit(13)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 13):
        raise RuntimeError(f"the check of {path} exited {code}")
    return code == 0


def conf_user(role):
    """The name conf-users gives role (daemon, tls, ...)."""
    with open(os.path.join(SRC, "conf-users")) as f:
        for line in f:
            words = line.split()
            if len(words) == 2 and words[0] == role:
                return words[1]
    raise KeyError(role)


def _openssl(args):
    out = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + " failed:\n" + out.stderr)


class User:
    def __init__(self, name, uid, gid, home):
        self.name, self.uid, self.gid, self.home = name, uid, gid, home

    @property
    def maildir(self):
        return os.path.join(self.home, "Maildir")

    def write(self, relpath, text, mode=0o644):
        path = os.path.join(self.home, relpath)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, self.uid, self.gid)
        return path

    def mkdir(self, relpath, mode=0o700):
        path = os.path.join(self.home, relpath)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        os.chown(path, self.uid, self.gid)
        return path

    def make_maildir(self, relpath="Maildir"):
        for sub in ("", "/cur", "/new", "/tmp"):
            self.mkdir(relpath + sub)
        return os.path.join(self.home, relpath)


class Instance:
    """One installed postern. multi=None means multi-user when root."""

    def __init__(self, multi=None, delivery="./Maildir/"):
        self.multi = IS_ROOT if multi is None else multi
        self.tmp = tempfile.mkdtemp(prefix="postern-test-")
        os.chmod(self.tmp, 0o755)
        self.home = os.path.join(self.tmp, "home")
        self.delivery = delivery
        self.proc = None
        self.logfile = os.path.join(self.tmp, "log")
        self.users = []
        self.aliases = os.path.join(self.tmp, "aliases")
        cmd = ["make", "-s", "--no-print-directory", "-C", SRC, f"CONF_HOME={self.home}",
               f"ALIASES={self.aliases}", "setup"]
        # A throwaway install stays out of the host's man-db configuration.
        cmd.append(f"MANPATH_CONFIG={os.environ.get('MANPATH_CONFIG', '')}")
        if not self.multi:
            cmd.append("SINGLE=1")
        cmd += san_args()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError("make setup failed:\n" + out.stdout + out.stderr)
        self.me = self.control_value("me")
        self.bin = os.path.join(self.home, "bin")

    # -- control files -------------------------------------------------
    def control(self, name, text):
        with open(os.path.join(self.home, "control", name), "w") as f:
            f.write(text if text.endswith("\n") or text == "" else text + "\n")

    def control_value(self, name):
        with open(os.path.join(self.home, "control", name)) as f:
            return f.readline().strip()

    def make_certificate(self, names=("localhost",), ca=None, file="default.pem"):
        """A certificate for names (the first is the subject's CN, all are
        subjectAltNames) with its key, installed as control/tls/<file>
        (key and chain in one PEM, the TLS user's, 0600; replaced
        atomically, as a renewal would). Self-signed, or with ca true
        signed by a test CA made once and written to tmp/ca.pem. Returns
        the file a client should trust: ca.pem, or the certificate."""
        work = tempfile.mkdtemp(dir=self.tmp, prefix="cert-")
        key, crt = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
        san = ",".join(f"DNS:{n}" for n in names)
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]
        subj = ["-subj", f"/CN={names[0]}"]
        if ca:
            ca_pem, ca_key = os.path.join(self.tmp, "ca.pem"), os.path.join(self.tmp, "ca.key")
            if not os.path.exists(ca_pem):
                _openssl(["req", "-x509", "-days", "30", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", ca_key, "-out", ca_pem, "-subj", "/CN=postern test CA"])
            csr, ext = os.path.join(work, "req.csr"), os.path.join(work, "ext")
            with open(ext, "w") as f:
                f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
            _openssl(["req", "-new"] + newkey + subj + ["-out", csr])
            _openssl(["x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-days", "30",
                      "-extfile", ext, "-out", crt])
            trust = ca_pem
        else:
            _openssl(["req", "-x509", "-days", "30"] + newkey + subj + ["-addext", f"subjectAltName={san}", "-out", crt])
            trust = crt
        tls_dir = os.path.join(self.home, "control", "tls")
        dest = os.path.join(tls_dir, file)
        with open(key) as k, open(crt) as c:
            pem = k.read() + c.read()
        tmp = dest + ".new"
        with open(tmp, "w") as f:
            f.write(pem)
        os.chmod(tmp, 0o600)
        if self.multi:
            os.chown(tmp, pwd.getpwnam(conf_user("tls")).pw_uid, -1)
        os.rename(tmp, dest)
        return trust

    # -- users ---------------------------------------------------------
    def add_user(self, name):
        """A mail user with a home and a Maildir: a real Unix user in a
        multi-user instance, a users/assign entry for us otherwise."""
        home = os.path.join(self.tmp, "users", name)
        os.makedirs(home, exist_ok=True)
        os.chmod(os.path.dirname(home), 0o755)
        if self.multi:
            login = f"pt{os.getpid() % 10000}{name}"[:32]
            subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", login], check=True,
                           capture_output=True)
            _users_made.append(login)
            pw = pwd.getpwnam(login)
            user = User(login, pw.pw_uid, pw.pw_gid, home)
        else:
            user = User(name, os.getuid(), os.getgid(), home)
            with open(os.path.join(self.home, "users", "assign"), "a") as f:
                f.write(f"={name}:{name}:{user.uid}:{user.gid}:{home}:::\n")
                f.write(f"+{name}-:{name}:{user.uid}:{user.gid}:{home}:-::\n")
            self._newu()
        os.chown(home, user.uid, user.gid)
        os.chmod(home, 0o755)
        user.make_maildir()
        user.address = f"{user.name}@{self.me}"
        self.users.append(user)
        # What an admin does after adding a user: tell smtpd who exists.
        subprocess.run([os.path.join(self.home, "bin", "newrcpt")], capture_output=True, env=make_env(), timeout=60)
        return user

    def set_password(self, user, password):
        """A mail password for user: the shadow file (root) or, in
        single-user mode, a mailauth entry."""
        if self.multi:
            subprocess.run(["chpasswd"], input=f"{user.name}:{password}\n".encode(), check=True)
        else:
            r = self.run("mailauth", ["add", "-d", user.home, user.name], (password + "\n").encode())
            assert r.returncode == 0, r.stderr

    def _newu(self):
        path = os.path.join(self.home, "users", "assign")
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l != "."]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        subprocess.run([os.path.join(self.home, "bin", "newu")], check=True, env=make_env())

    @property
    def alias_home(self):
        return os.path.join(self.home, "alias")

    # -- running ---------------------------------------------------------
    def start(self, timeout=10):
        starts = self.log().count("status: started")
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([os.path.join(self.bin, "start"), self.delivery], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(),
                                     cwd="/")
        log.close()
        wait_for(lambda: self.log().count("status: started") > starts, timeout, "send to start\n" + self.log()[-2000:])

    def stop(self):
        if not self.proc:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        # make setup linked this conf-home's own programs under build/inst
        # (the home is compiled in): about 60 MB an instance.
        for d in glob.glob(os.path.join(SRC, "build", "inst", glob.escape(self.home.replace("/", "_"))) + "*"):
            shutil.rmtree(d, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- mail --------------------------------------------------------------
    def run(self, program, args, input=b"", user=None, timeout=60, env=None):
        e = make_env()
        if env:
            e.update(env)
        kwargs = {}
        if user is not None and IS_ROOT and self.multi:
            kwargs["user"] = user.uid
            kwargs["group"] = user.gid
            kwargs["extra_groups"] = []
            e["USER"] = e["LOGNAME"] = user.name
        return subprocess.run([os.path.join(self.bin, program)] + list(args), input=input, capture_output=True,
                              timeout=timeout, env=e, cwd="/", **kwargs)

    def sendmail(self, args, message, **kw):
        if isinstance(message, str):
            message = message.encode()
        return self.run("sendmail", args, message, **kw)

    def inject(self, args, message, **kw):
        if isinstance(message, str):
            message = message.encode()
        return self.run("inject", args, message, **kw)

    def queue_count(self):
        return len(os.listdir(os.path.join(self.home, "queue", "todo")))

    def wait_queue_empty(self, timeout=30):
        wait_for(lambda: self.queue_count() == 0, timeout, "the queue to empty\n" + self.log()[-3000:])

    def wait_maildir(self, maildir, count=1, timeout=20):
        return wait_for(lambda: len(maildir_files(maildir)) >= count and maildir_files(maildir), timeout,
                        f"{count} message(s) in {maildir}\nlog:\n" + self.log()[-3000:])

    def mailq(self):
        return self.run("mailq", []).stdout.decode(errors="replace")

    def retry(self):
        """sendmail -q: retry the whole queue now."""
        return self.sendmail(["-q"], b"")


def remove_test_users():
    for login in _users_made:
        subprocess.run(["userdel", login], capture_output=True)
    _users_made.clear()


class ServerTestCase(unittest.TestCase):
    """A test class whose setUpClass makes cls.inst and maybe cls.server (a
    TcpServer or SmtpServer): tearDownClass stops and removes both, and the
    test users."""

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            cls.server.stop()
        cls.inst.cleanup()
        remove_test_users()
