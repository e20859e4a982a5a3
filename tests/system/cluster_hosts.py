"""The servers of test_cluster's hosts, each started in a network
namespace and stopped by the test: OpenLDAP's slapd holding the user
directory, nginx's mail proxy, and any program under tcpserver."""
import os
import shutil
import signal
import subprocess

from harness import make_env, sh, wait_for

SCHEMAS = ["core", "cosine", "inetorgperson", "nis", "misc"]


def listening(netns, address, port):
    out = sh("ip", "netns", "exec", netns, "ss", "-ltnH", check=False).stdout
    return f"{address}:{port} " in out


def stop_group(proc, sig=signal.SIGTERM):
    if not proc or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class LdapServer:
    """slapd on ldap://address/ in netns, suffix dc=example,dc=test, loaded
    from entries (LDIF text) with slapadd before it starts. Anyone may read
    everything but userPassword, which only binds use."""

    suffix = "dc=example,dc=test"

    def __init__(self, workdir, netns, address, entries):
        self.dir = os.path.join(workdir, "slapd")
        self.netns, self.address = netns, address
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            for s in SCHEMAS:
                f.write(f"include /etc/ldap/schema/{s}.schema\n")
            f.write(f"pidfile {self.dir}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                    f"database mdb\nmaxsize 10485760\nsuffix \"{self.suffix}\"\n"
                    f"rootdn \"cn=admin,{self.suffix}\"\nrootpw unused-{os.getpid()}\n"
                    f"directory {self.dir}/db\n"
                    "access to attrs=userPassword by anonymous auth by * none\n"
                    "access to * by * read\n")
        ldif = os.path.join(self.dir, "data.ldif")
        with open(ldif, "w") as f:
            f.write(entries)
        p = subprocess.run(["slapadd", "-f", self.conf, "-l", ldif], capture_output=True, text=True)
        assert p.returncode == 0, "slapadd: " + p.stderr
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, "slapd", "-d", "0", "-f", self.conf,
                                      "-h", f"ldap://{self.address}/"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "ab"),
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(), cwd="/")
        wait_for(lambda: listening(self.netns, self.address, 389), 15, "slapd to listen")

    def stop(self):
        stop_group(self.proc)
        self.proc = None


def hashed(password):
    """An {SSHA} userPassword, as slappasswd makes it."""
    return sh("slappasswd", "-s", password).stdout.strip()


class NsServer:
    """tcpserver on address:port in netns running argv (as root: the
    program drops privileges itself), its log in logfile."""

    def __init__(self, netns, address, port, argv, logfile, options=()):
        self.logfile = logfile
        self.netns, self.address, self.port, self.argv, self.options = netns, address, port, argv, options
        self.proc = None
        self.start()

    def start(self):
        cmd = ["ip", "netns", "exec", self.netns, "tcpserver", "-R", "-H", "-l", "0", *self.options,
               self.address, str(self.port)] + list(self.argv)
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=make_env(), cwd="/")
        wait_for(lambda: listening(self.netns, self.address, self.port), 10,
                 f"tcpserver on {self.address}:{self.port}")

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_group(self.proc)
        self.proc = None


class NginxMailProxy:
    """nginx's mail proxy in netns: IMAP on address:143 and POP3 on
    address:110, asking auth_url (authhttp) where each login goes."""

    def __init__(self, workdir, netns, address, auth_url):
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.netns, self.address = netns, address
        conf = os.path.join(self.dir, "nginx.conf")
        self.errors = os.path.join(self.dir, "error.log")
        with open(conf, "w") as f:
            f.write("load_module /usr/lib/nginx/modules/ngx_mail_module.so;\n"
                    f"daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\n"
                    f"error_log {self.errors} info;\n"
                    "events { worker_connections 64; }\n"
                    "mail {\n  server_name proxy.example.test;\n"
                    f"  auth_http {auth_url};\n  proxy_pass_error_message on;\n"
                    f"  server {{ listen {address}:143; protocol imap; }}\n"
                    f"  server {{ listen {address}:110; protocol pop3; }}\n}}\n")
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, "nginx", "-p", self.dir, "-e", self.errors,
                                      "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(), cwd="/")
        wait_for(lambda: listening(netns, address, 143) and listening(netns, address, 110), 15,
                 "nginx to listen")

    def log(self):
        with open(self.errors, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_group(self.proc, signal.SIGQUIT)


class HaproxySmtp:
    """HAProxy in netns: SMTP on address:25, round robin to servers
    (address, port) with the PROXY protocol, version 2."""

    def __init__(self, workdir, netns, address, servers):
        self.dir = os.path.join(workdir, "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write("global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
                    f"  timeout server 60s\nlisten smtp\n  bind {address}:25\n  balance roundrobin\n")
            for i, (a, port) in enumerate(servers):
                f.write(f"  server mx{i} {a}:{port} send-proxy-v2\n")
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, haproxy, "-db", "-f", conf],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "ab"),
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=make_env(), cwd="/")
        wait_for(lambda: listening(netns, address, 25), 15, "haproxy to listen")

    def stop(self):
        stop_group(self.proc)
