"""A mail site of several hosts on one machine, for test_cluster and
bench/cluster: each host a network namespace with a postern of its own,
joined to a hub that runs DNS (dnsmasq) and the user directory (slapd).

Roles:
    out      a postern outside the site (sends by MX; out.test)
    mx       example.test is local; the directory routes each user's mail
             to the mailbox host it names (mailHost)
    backup   relays example.test (rcpthosts only): a backup MX
    mailbox  smtpd, imapd, pop3d; the users whose mailHost it is live here
    proxy    nginx's mail proxy (IMAP, POP3) asking authhttp, and HAProxy
             for SMTP in front of the mx hosts' smtpd on port 2525, which
             runs behind proxy-env (the PROXY protocol)

Users exist only in the directory: uidNumbers with no passwd entry, homes
on their mailbox host, {SSHA} passwords that slapd checks. Root only."""
import os
import pwd
import shutil
import subprocess

from cluster_hosts import HaproxySmtp, LdapServer, NginxMailProxy, NsServer, hashed, stop_group
from harness import make_env, maildir_files, remove_test_users, sh, wait_for
from test_remote_dns import NsInstance, NsSmtpd, build_network, why_no_netns


def why_no_site():
    reason = why_no_netns()
    if reason:
        return reason
    for tool in ("slapd", "slapadd", "slappasswd", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"no {tool}"
    if not os.path.exists("/usr/lib/nginx/modules/ngx_mail_module.so"):
        return "no nginx mail module (libnginx-mod-mail)"
    return None


def free_uid(start):
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
            uid += 1
        except KeyError:
            return uid


def ns_python(ns, code, *args, timeout=60):
    """Runs Python code in namespace ns; its stdout, or raises with stderr."""
    p = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code, *args], capture_output=True, text=True,
                       timeout=timeout, env=make_env(), cwd="/")
    if p.returncode != 0:
        raise AssertionError(f"in {ns}: {p.stderr[-2000:]}")
    return p.stdout


class Site:
    """hosts: key -> (name, role), in order; the hub is added as "H".
    users: name -> (mailbox host key, password). mx: (host key,
    preference) pairs for example.test. subnet: the first three numbers of
    the site's addresses (the hub is .1, the hosts follow in order).
    meters (optional): host key -> bench/peer.CpuMeter; that host's
    processes are started in its cgroup."""

    def __init__(self, tag, subnet, hosts, users, mx, meters=None):
        self.tag, self.hosts, self.users, self.mx, self.meters = tag, hosts, users, mx, meters or {}
        self.ns = {"H": f"{tag}H", **{k: f"{tag}{k}" for k in hosts}}
        self.addr = {"H": f"{subnet}.1", **{k: f"{subnet}.{i + 2}" for i, k in enumerate(hosts)}}
        self.insts, self.servers, self.smtpd, self.mailbox_servers = {}, [], {}, {}
        self.dnsmasq = self.ldap = self.nginx = self.authhttp = self.haproxy = None
        self.accounts = {}
        try:
            self.build()
        except Exception:
            self.stop()
            raise

    def role(self, key):
        return self.hosts[key][1]

    def keys(self, *roles):
        return [k for k in self.hosts if self.role(k) in roles]

    # -- building -------------------------------------------------------------
    def build(self):
        first = next(iter(self.hosts))
        build_network(self.ns, "H", [f"{self.addr['H']}/24"],
                      {k: [f"{self.addr[k]}/24"] for k in self.hosts}, first, self.addr["H"])
        for k in self.hosts:
            if k != first:
                os.makedirs(f"/etc/netns/{self.ns[k]}", exist_ok=True)
                shutil.copy(f"/etc/netns/{self.ns[first]}/resolv.conf", f"/etc/netns/{self.ns[k]}/resolv.conf")
        self.start_dnsmasq()
        self.make_instances()
        self.make_accounts()
        self.ldap = LdapServer(self.insts[first].tmp, self.ns["H"], self.addr["H"], self.directory_entries())
        for key in self.hosts:
            meter = self.meters.get(key)
            if meter:
                meter.enter()
            try:
                self.start_host(key)
            finally:
                if meter:
                    meter.leave()

    def start_dnsmasq(self):
        self.dnslog = f"/tmp/{self.tag}-dnsmasq.log"
        cmd = ["ip", "netns", "exec", self.ns["H"], "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv",
               "--no-hosts", f"--listen-address={self.addr['H']}", "--bind-interfaces", "--port=53", "--local=/test/",
               f"--pid-file=/tmp/{self.tag}-dnsmasq.pid", f"--log-facility={self.dnslog}"]
        cmd += [f"--host-record={name},{self.addr[k]}" for k, (name, _) in self.hosts.items()]
        cmd += [f"--mx-host=example.test,{self.hosts[k][0]},{pref}" for k, pref in self.mx]
        self.dnsmasq = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        name, key = next((name, k) for k, (name, _) in self.hosts.items())
        code = "import socket,sys; print(socket.gethostbyname(sys.argv[1]))"
        wait_for(lambda: subprocess.run(["ip", "netns", "exec", self.ns[key], "python3", "-c", code, name],
                                        capture_output=True, text=True).stdout.strip() == self.addr[key], 10,
                 "dnsmasq to answer")

    def make_instances(self):
        # make setup for each host: the first alone (it may create the
        # system's users), the others side by side.
        from concurrent.futures import ThreadPoolExecutor
        keys = list(self.hosts)
        made = {keys[0]: NsInstance()}
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {k: pool.submit(NsInstance) for k in keys[1:]}
        errors = [f.exception() for f in futures.values() if f.exception()]
        made.update({k: f.result() for k, f in futures.items() if not f.exception()})
        if errors:
            for m in made.values():
                m.cleanup()
            raise errors[0]
        for key, (me, role) in self.hosts.items():
            inst = made[key]
            inst.netns = self.ns[key]
            self.insts[key] = inst
            inst.me = me
            inst.control("me", me)
            inst.control("timeoutconnect", "3")
            inst.control("timeoutremote", "60")
            if role == "out":
                inst.control("locals", me)
                inst.control("rcpthosts", me)
            elif role == "backup":  # relays example.test, checking its recipients in the directory
                inst.control("locals", me)
                inst.control("rcpthosts", "example.test")
                inst.control("ldaprcpthosts", "example.test")
                inst.control("ldapserver", f"ldap://{self.addr['H']}/")
                inst.control("ldapbasedn", LdapServer.suffix)
            else:
                inst.control("locals", "example.test")
                inst.control("rcpthosts", "example.test")
                inst.control("ldapserver", f"ldap://{self.addr['H']}/")
                inst.control("ldapbasedn", LdapServer.suffix)
                inst.control("plaintextlogin", "1")  # behind the proxy, on the site's own network
                inst.control("proxyfrom", "\n".join(self.addr[k] for k in self.keys("proxy")))
        out = self.keys("out")
        self.sender = self.insts[out[0]].add_user(f"s{self.tag}") if out else None

    def make_accounts(self):
        uid = free_uid(61000)
        for name, (key, _) in self.users.items():
            uid = free_uid(uid + 1)
            home = os.path.join(self.insts[key].tmp, "vmail", name)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(home, "Maildir", sub))
            os.chmod(os.path.dirname(home), 0o755)
            for dirpath, _, _ in os.walk(home):
                os.chown(dirpath, uid, uid)
            os.chmod(home, 0o700)
            self.accounts[name] = (uid, home)

    def directory_entries(self):
        out = ["dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example\n",
               "dn: ou=people,dc=example,dc=test\nobjectClass: organizationalUnit\nou: people\n"]
        for name, (uid, home) in self.accounts.items():
            key, password = self.users[name]
            out.append(f"dn: uid={name},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\n"
                       "objectClass: posixAccount\nobjectClass: inetLocalMailRecipient\n"
                       f"cn: {name}\nsn: {name}\nuid: {name}\nuidNumber: {uid}\ngidNumber: {uid}\n"
                       f"homeDirectory: {home}\nmail: {name}@example.test\n"
                       f"mailHost: {self.hosts[key][0]}\nuserPassword: {hashed(password)}\n")
        names = list(self.users)[:2]
        out.append("dn: cn=team@example.test,ou=people,dc=example,dc=test\nobjectClass: nisMailAlias\n"
                   "cn: team@example.test\n" + "".join(f"rfc822MailMember: {n}@example.test\n" for n in names))
        return "\n".join(out)

    def start_host(self, key):
        role, inst = self.role(key), self.insts[key]
        if role != "proxy":
            inst.start()
        if role in ("mx", "backup", "mailbox"):
            self.smtpd[key] = NsSmtpd(inst, self.ns[key], self.addr[key])
            self.servers.append(self.smtpd[key])
        if role == "mx" and self.keys("proxy"):
            pw = pwd.getpwnam("posternd")
            s = NsServer(self.ns[key], self.addr[key], 2525,
                         [os.path.join(inst.bin, "proxy-env"), os.path.join(inst.bin, "smtpd")],
                         os.path.join(inst.tmp, "smtpd-proxied.log"), ["-u", str(pw.pw_uid), "-g", str(pw.pw_gid)])
            self.servers.append(s)
        if role == "mailbox":
            for prog, port in (("imapd", 143), ("pop3d", 110)):
                s = NsServer(self.ns[key], self.addr[key], port, [os.path.join(inst.bin, prog)],
                             os.path.join(inst.tmp, f"{prog}.log"))
                self.servers.append(s)
                self.mailbox_servers[(key, prog)] = s
        if role == "proxy":
            self.authhttp = NsServer(self.ns[key], "127.0.0.1", 9000, [os.path.join(inst.bin, "authhttp")],
                                     os.path.join(inst.tmp, "authhttp.log"))
            self.servers.append(self.authhttp)
            self.nginx = NginxMailProxy(inst.tmp, self.ns[key], self.addr[key], "http://127.0.0.1:9000/auth")
            self.haproxy = HaproxySmtp(inst.tmp, self.ns[key], self.addr[key],
                                       [(self.addr[k], 2525) for k in self.keys("mx")])

    def restart_smtpd(self, key):
        self.smtpd[key].stop()
        self.smtpd[key] = NsSmtpd(self.insts[key], self.ns[key], self.addr[key])
        self.servers.append(self.smtpd[key])

    # -- reading ----------------------------------------------------------------
    def maildir(self, name):
        return os.path.join(self.accounts[name][1], "Maildir")

    def delivered(self):
        return sum(len(os.listdir(os.path.join(self.maildir(n), "new"))) for n in self.accounts)

    def count(self, name):
        return len(maildir_files(self.maildir(name)))

    # -- stopping ---------------------------------------------------------------
    def stop(self):
        if self.nginx:
            self.nginx.stop()
        if self.haproxy:
            self.haproxy.stop()
        for s in self.servers:
            s.stop()
        if self.ldap:
            self.ldap.stop()
        for inst in self.insts.values():
            inst.cleanup()
        stop_group(self.dnsmasq)
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        for f in (f"/tmp/{self.tag}-dnsmasq.pid", f"/tmp/{self.tag}-dnsmasq.log"):
            if os.path.exists(f):
                os.unlink(f)
        remove_test_users()
