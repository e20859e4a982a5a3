"""A real Dovecot 2.3 (Debian's dovecot-imapd) as a throwaway peer for the
system tests: its own config file, base_dir, state and log in a temp dir,
IMAP on a free loopback port, users from a passwd-file the test writes
(PLAIN passwords), each mapped to the uid, gid and home of a real test
user so that Dovecot reads and writes the same Maildir (Maildir++, the
layout postern uses: "." separator, INBOX at ~/Maildir) with the owner's
rights. The master runs in the foreground in its own process group and is
killed with it by stop(); nothing of the system's /etc/dovecot is read.

Trusts: the dovecot binaries installed by tools/deps. Returns: a running
server (.port, .client(), .log()); raises RuntimeError when it does not
start (the message holds Dovecot's log)."""
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"


def available():
    """Whether Dovecot is installed (tools/deps installs it as a test package)."""
    return os.path.exists(DOVECOT)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class DovecotPeer:
    """users: User objects of the harness (name, uid, gid, home) or tuples
    (name, uid, gid, home); password: one password for all, or a dict
    name -> password. index: "maildir" keeps Dovecot's index files in the
    Maildir as a real install does; "memory" keeps them out of it.
    extra: more config lines (appended last, so they override)."""

    def __init__(self, users, password="dovecot-pw", index="maildir", extra="", tmp=None):
        self.tmp = tempfile.mkdtemp(prefix="postern-dovecot-", dir=tmp)
        os.chmod(self.tmp, 0o755)
        self.port = _free_port()
        self.base_dir = os.path.join(self.tmp, "run")
        self.state_dir = os.path.join(self.tmp, "state")
        self.logfile = os.path.join(self.tmp, "dovecot.log")
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.passwd = os.path.join(self.tmp, "passwd")
        self.passwords = {}
        os.makedirs(self.state_dir)
        with open(self.passwd, "w") as f:
            for u in users:
                name, uid, gid, home = (u if isinstance(u, tuple) else (u.name, u.uid, u.gid, u.home))
                pw = password[name] if isinstance(password, dict) else password
                self.passwords[name] = pw
                f.write(f"{name}:{{PLAIN}}{pw}:{uid}:{gid}::{home}::\n")
        os.chmod(self.passwd, 0o644)
        location = "maildir:~/Maildir" + (":INDEX=MEMORY" if index == "memory" else "")
        with open(self.conf, "w") as f:
            f.write(self._config(location) + extra + "\n")
        self.proc = None
        self.start()

    def _config(self, location):
        # The settings a stock Debian install has that matter to clients,
        # minus TLS, plus what imaptest's scripts need: the mailbox list
        # index (NOTIFY), URLAUTH's service, and the old body structure
        # cache off so each FETCH parses the file as postern does.
        tmp = self.tmp
        return f"""
base_dir = {self.base_dir}
state_dir = {self.state_dir}
instance_name = postern-dovecot-{self.port}
log_path = {self.logfile}
info_log_path = {self.logfile}
debug_log_path = {self.logfile}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = {location}
mailbox_list_index = yes
first_valid_uid = 1
mail_privileged_group =
default_vsz_limit = 512M
shutdown_clients = yes
# the stress test holds 10 sessions of one user from 127.0.0.1 and checks with an 11th
mail_max_userip_connections = 100
# COMPRESS=DEFLATE, as a site that offers it configures it
mail_plugins = zlib
protocol imap {{
  mail_plugins = zlib imap_zlib
}}
login_trusted_networks = 127.0.0.0/8
imap_urlauth_host = *
mail_attribute_dict = file:%h/Maildir/dovecot-attributes
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap-urlauth-login {{
  unix_listener imap-urlauth {{
    mode = 0666
  }}
}}
service imap-urlauth {{
  unix_listener token-login/imap-urlauth {{
    mode = 0666
  }}
}}
service imap-urlauth-worker {{
  unix_listener imap-urlauth-worker {{
    mode = 0666
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
# {tmp}
"""

    def start(self):
        # A second master on the same config would be left running when
        # stop() forgets the first: started already is started.
        if self.proc is not None and self.proc.poll() is None:
            return
        log = open(os.path.join(self.tmp, "master.out"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd="/",
                                     env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(5)
                    if s.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not answer on port %d:\n%s" % (self.port, self.log()))

    def client(self, timeout=20):
        return imaplib.IMAP4("127.0.0.1", self.port, timeout=timeout)

    def login(self, name, timeout=20):
        c = self.client(timeout)
        c.login(name, self.passwords[name])
        return c

    def log(self):
        text = ""
        for f in (os.path.join(self.tmp, "master.out"), self.logfile):
            try:
                with open(f, errors="replace") as fh:
                    text += fh.read()
            except FileNotFoundError:
                pass
        return text

    def stop(self):
        """Stops the master and every process it started (they share its
        process group), then waits for the port to close."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its children itself
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        # Children (imap runs as the mail user) share the master's group:
        # none may outlive the test.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
