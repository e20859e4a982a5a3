"""bench/peer.py: what the benchmarks need to measure postern side by side
with Postfix on one machine: a CPU meter that sees every process a mail
system forks, whatever user it becomes, and a throwaway Postfix that
delivers to the same real users' Maildirs.

It trusts the caller to be root (a real Postfix and setuid programs can
only be measured as root) and trusts nothing of the system's own Postfix:
it never reads /etc/postfix/main.cf nor starts the system's service; its
instance lives in a temporary directory and is stopped by stop().
Returns: CpuMeter.seconds() in CPU seconds; Postfix's port, sendmail
command and Maildir name.
"""
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "system"))
from harness import free_port, make_env, port_listening, wait_for  # noqa: E402


def _mount(kind, option=None):
    """Where the cgroup hierarchy of kind (cgroup or cgroup2) with option
    (a v1 controller) is mounted, or None."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == kind and (option is None or option in fields[3].split(",")):
                return fields[1]
    return None


def _own_cgroup(match):
    with open("/proc/self/cgroup") as f:
        for line in f:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            if match(number, controllers.split(",")):
                return path
    return "/"


class CpuMeter:
    """The CPU time of one mail system and everything it forks, setuid
    programs included (perf and getrusage stop at a setuid exec or an
    unreaped child; a cgroup does not). cgroup v1's cpuacct (cpuacct.usage,
    nanoseconds) where it is mounted, else a cgroup v2 (cpu.stat
    usage_usec). join() is a preexec_fn: the system's first process (start,
    tcpserver, postfix) joins before it execs, so its children are born in
    the group. enter()/leave() put this process in and out around code
    that starts what must be counted."""

    def __init__(self, name):
        self.path = self.home = None
        self.v1 = False
        v1 = _mount("cgroup", "cpuacct")
        v2 = _mount("cgroup2")
        tries = []
        if v1:
            tries.append((True, v1, _own_cgroup(lambda n, c: "cpuacct" in c)))
        if v2:
            tries.append((False, v2, _own_cgroup(lambda n, c: n == "0")))
        for is_v1, mount, own in tries:
            path = os.path.join(mount, f"postern-bench-{os.getpid()}-{name}")
            home = os.path.join(mount, own.lstrip("/"))
            try:
                os.mkdir(path)
            except OSError:
                continue
            try:  # can a process be moved in and out?
                self._move(path)
                self._move(home)
            except OSError:
                os.rmdir(path)
                continue
            self.path, self.home, self.v1 = path, home, is_v1
            break
        if not self.path:
            raise RuntimeError("no writable cgroup (v1 cpuacct or v2) to count CPU in: run as root")
        self.how = "cgroup v1 cpuacct.usage" if self.v1 else "cgroup v2 cpu.stat usage_usec"

    @staticmethod
    def _move(group, pid=None):
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(pid or os.getpid()))

    def join(self):
        self._move(self.path)

    def enter(self):
        self._move(self.path)

    def leave(self):
        self._move(self.home)

    def seconds(self):
        if self.v1:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) / 1e6
        return 0.0

    def close(self):
        try:
            wait_for(lambda: not open(os.path.join(self.path, "cgroup.procs")).read().strip(), 30,
                     f"the processes of {self.path} to end")
            os.rmdir(self.path)
        except (AssertionError, OSError) as e:
            print(f"bench: could not remove {self.path}: {e}", file=sys.stderr)


def install_postfix():
    """Debian's postfix, installed with debconf's "No configuration": the
    package then leaves /etc/postfix without main.cf and starts no
    system-wide Postfix; the benchmarks run their own."""
    if shutil.which("postfix"):
        return
    env = dict(make_env(), DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n",
                   check=True, env=env)
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"]
    if subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, env=env)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    subprocess.run(["service", "postfix", "stop"], capture_output=True, env=env)


# Debian's master.cf services that a delivery to local users can reach,
# and smtpd on the bench's port. The columns are Debian's defaults.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

# Postfix's defaults but for what a throwaway instance needs: its own
# directories and log file, the bench's domain, Maildir delivery; no
# reverse lookup (postern's tcpserver runs with -H), no comsat.
MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
myhostname = {domain}
mydomain = {domain}
mydestination = {domain}
alias_maps =
alias_database =
home_mailbox = {maildir}/
biff = no
inet_protocols = ipv4
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = {limit}
"""


class Postfix:
    """A throwaway Postfix 3 (Debian's): config, queue and data
    directories under tmp, smtpd on a free loopback port, mydestination
    the bench's domain, delivery by Postfix's local into each user's
    ~/<maildir>/ (a name of its own, so each system's Maildir counts only
    its own deliveries). master starts in meter's cgroup (as root, as a
    real Postfix does)."""

    name = "Postfix"

    def __init__(self, tmp, domain, meter, maildir="Maildir-postfix", limit=1000):
        install_postfix()
        self.meter, self.maildir = meter, maildir
        self.dir = os.path.join(tmp, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        for sub in ("etc", "spool", "data"):
            os.makedirs(os.path.join(self.dir, sub))
        shutil.chown(os.path.join(self.dir, "data"), "postfix", "postfix")
        os.chmod(tmp, 0o755)
        self.port = free_port()
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, domain=domain, maildir=maildir, limit=limit))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        r = subprocess.run(["postfix", "-c", self.etc, "start"], capture_output=True, text=True, env=make_env(),
                           preexec_fn=meter.join, timeout=120)
        if r.returncode != 0:
            subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True, env=make_env(), timeout=120)
            raise RuntimeError(f"postfix -c {self.etc} start failed:\n{r.stdout}{r.stderr}{self.log_tail()}")
        wait_for(lambda: port_listening(self.port), 20, f"Postfix on port {self.port}")
        with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
            self.master = int(f.read().strip())

    def version(self):
        r = subprocess.run(["postconf", "-c", self.etc, "-h", "mail_version"], capture_output=True, text=True)
        return f"Postfix {r.stdout.strip()}"

    def sendmail(self):
        """The command line of this instance's sendmail (Postfix's own,
        through postdrop into its maildrop)."""
        return ["/usr/sbin/sendmail", "-C", self.etc]

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True, env=make_env(), timeout=120)
        try:
            wait_for(lambda: not os.path.exists(f"/proc/{self.master}"), 30, "Postfix's master to exit")
        except AssertionError:
            os.kill(self.master, signal.SIGKILL)


class PosternSystem:
    """postern's side: a real instance (multi-user as root) with its
    supervisor (start) and tcpserver running smtpd, both started inside
    meter's cgroup; users are made here and shared with Postfix."""

    name = "postern"

    def __init__(self, nusers):
        from harness import Instance
        from smtp_helpers import SmtpServer
        self.meter = CpuMeter("postern")
        self.inst = Instance()
        self.server = None
        self.maildir = "Maildir"
        self.users = [self.inst.add_user(f"bench{i}") for i in range(nusers)]
        self.inst.control("concurrencylocal", "20")
        # QUEUEDCLIENTS=0 makes every client fall back to bin/queue: the
        # queue path as it was before queued(8), for a before/after run.
        if os.environ.get("QUEUEDCLIENTS"):
            self.inst.control("queuedclients", os.environ["QUEUEDCLIENTS"])
        self.meter.enter()
        try:
            self.inst.start()
            self.server = SmtpServer(self.inst)
        finally:
            self.meter.leave()
        self.port = self.server.port

    def version(self):
        head = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "log", "-1", "--format=%h"],
                              capture_output=True, text=True)
        return f"postern {head.stdout.strip()}"

    def sendmail(self):
        return [os.path.join(self.inst.bin, "sendmail")]

    def log_tail(self):
        return self.inst.log()[-3000:]

    def stop(self):
        if self.server:
            self.server.stop()
        self.inst.stop()


def stop_on_signals():
    """A bench stopped with kill or ^C must still stop what it started (its
    finally blocks): SIGTERM and SIGHUP become SystemExit, as ^C does."""
    def stop(signum, frame):
        raise SystemExit(f"bench: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def delivered(users, maildir):
    total = 0
    for u in users:
        try:
            total += len(os.listdir(os.path.join(u.home, maildir, "new")))
        except FileNotFoundError:
            pass
    return total


def smtp_load(port, n, clients, rcpts, users, body, per):
    """n messages of rcpts recipients each over k=clients connections at
    once, per messages a connection; returns the failures."""
    import smtplib
    import threading
    failures = []

    def client(w):
        mine = list(range(w, n, clients))
        for start in range(0, len(mine), per):
            try:
                with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example", timeout=120) as s:
                    for i in mine[start:start + per]:
                        to = [users[(i + j) % len(users)].address for j in range(rcpts)]
                        s.sendmail("bench@example.net", to, body)
            except (smtplib.SMTPException, OSError) as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def sendmail_load(cmd, n, users, body, meter):
    """n `sendmail -i` one after another, each in the system's cgroup (the
    injection is part of what the system costs)."""
    failures = []
    for i in range(n):
        r = subprocess.run(cmd + ["-i", users[i % len(users)].address], input=body, capture_output=True,
                           env=make_env(), cwd="/", preexec_fn=meter.join, timeout=120)
        if r.returncode != 0:
            failures.append(r.stderr.decode(errors="replace")[-200:])
    return failures


def one_run(system, users, workload, n, body, timeout=900):
    """One timed run: returns (deliveries/s, CPU seconds a delivery,
    load generator's CPU seconds a delivery, failures)."""
    import resource
    import time
    kind, clients, rcpts, per = workload
    want = delivered(users, system.maildir) + n * rcpts
    cpu0 = system.meter.seconds()
    gen0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    if kind == "smtp":
        failures = smtp_load(system.port, n, clients, rcpts, users, body, per)
    else:
        failures = sendmail_load(system.sendmail(), n, users, body, system.meter)
    gen1 = resource.getrusage(resource.RUSAGE_SELF)
    lost = len(failures) * (per if kind == "smtp" else 1) * rcpts
    wait_for(lambda: delivered(users, system.maildir) >= want - lost, timeout,
             f"{system.name}'s deliveries\n{system.log_tail()}")
    t1 = time.monotonic()
    time.sleep(0.3)  # what finishes a message after its last file (clean, qmgr) counts too
    cpu1 = system.meter.seconds()
    count = n * rcpts - lost
    gen = (gen1.ru_utime + gen1.ru_stime - gen0.ru_utime - gen0.ru_stime)
    return count / (t1 - t0), (cpu1 - cpu0) / max(count, 1), gen / max(count, 1), failures


def syscall_counts(system, users, workload, n, body):
    """Forks, execs and syncs a message: strace -f attached to every
    process in the system's cgroup during one untimed run (strace slows
    everything; the counts, not the times, are the point)."""
    import tempfile
    import time
    with open(os.path.join(system.meter.path, "cgroup.procs")) as f:
        pids = f.read().split()
    out = tempfile.mktemp(prefix="bench-strace-")
    calls = "fork,vfork,clone,clone3,execve,fsync,fdatasync,sync_file_range"
    cmd = ["strace", "-f", "-qq", "-c", "-o", out, "-e", f"trace={calls}"]
    for pid in pids:
        cmd += ["-p", pid]
    tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    kind, clients, rcpts, per = workload
    want = delivered(users, system.maildir) + n * rcpts
    if kind == "smtp":
        smtp_load(system.port, n, clients, rcpts, users, body, per)
    else:
        sendmail_load(["strace", "-f", "-qq", "-c", "-o", out + ".inject", "-e", f"trace={calls}"] +
                      system.sendmail(), n, users, body, system.meter)
    try:  # every delivery's processes are in the counts, not only the first ones
        wait_for(lambda: delivered(users, system.maildir) >= want, 600, f"{system.name}'s traced deliveries")
    except AssertionError as e:
        print(f"bench: {e}", file=sys.stderr)
    time.sleep(2.0)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=60)
    counts = {}
    for path in (out, out + ".inject"):
        try:
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 5 and fields[-1] in calls.split(","):
                        counts[fields[-1]] = counts.get(fields[-1], 0) + int(fields[3])
            os.unlink(path)
        except FileNotFoundError:
            pass
    forks = sum(counts.get(c, 0) for c in ("fork", "vfork", "clone", "clone3"))
    syncs = sum(counts.get(c, 0) for c in ("fsync", "fdatasync", "sync_file_range"))
    return forks / n, counts.get("execve", 0) / n, syncs / n


def describe(workload):
    kind, clients, rcpts, per = workload
    if kind == "smtp":
        return f"SMTP, {rcpts} rcpt{'s' if rcpts > 1 else ''}, {clients} client{'s' if clients > 1 else ''}"
    return "sendmail -i, in sequence"


def side_by_side(title, workloads, n_of, runs, body, nusers, syscalls=False):
    """Runs each workload against postern and Postfix, alternating
    (postern, Postfix, postern, ...) runs times, and prints the medians
    and their ratio. n_of(workload) is the number of messages a run."""
    import statistics
    import time
    import signal
    from harness import remove_test_users

    stop_on_signals()
    systems = []
    try:
        systems.append(PosternSystem(nusers))
        users = systems[0].users
        systems.append(Postfix(systems[0].inst.tmp, systems[0].inst.me, CpuMeter("postfix")))
        print(f"{title}: {len(body)}-byte messages to {nusers} real users' Maildirs, median of {runs} "
              f"alternating runs, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        for s in systems:
            print(f"  {s.version()}: CPU counted by {s.meter.how}, all its processes")
        print(f"  load average at the start {os.getloadavg()[0]:.1f}")
        print(f"  {'workload':32} {'postern':>22} {'Postfix':>22} {'ratio':>6}")
        for w in workloads:
            n = n_of(w)
            results = {s.name: [] for s in systems}
            for _ in range(runs):
                for s in systems:
                    results[s.name].append(one_run(s, users, w, n, body))
            cells, rates = [], []
            for s in systems:
                rs = results[s.name]
                rate = statistics.median(r[0] for r in rs)
                cpu = statistics.median(r[1] for r in rs)
                rates.append(rate)
                cells.append(f"{rate:7.1f}/s {cpu * 1000:6.2f} ms CPU")
                failed = sum(len(r[3]) for r in rs)
                if failed:
                    cells[-1] += f" ({failed} failed)"
            print(f"  {describe(w) + f' ({n} msgs)':32} {cells[0]:>22} {cells[1]:>22} "
                  f"{rates[0] / rates[1]:6.2f}")
            for s in systems:
                gen = statistics.median(r[2] for r in results[s.name])
                print(f"      {s.name}: load generator {gen * 1000:.2f} ms CPU a delivery")
            if syscalls:
                for s in systems:
                    forks, execs, syncs = syscall_counts(s, users, w, max(n // 4, 10), body)
                    print(f"      {s.name}: a message: {forks:.1f} forks, {execs:.1f} execs, "
                          f"{syncs:.1f} fsyncs (strace -f, an untimed run)")
        print(f"  load average at the end {os.getloadavg()[0]:.1f}")
        print("  (rate: messages or deliveries/s from the first byte sent to the last Maildir file, median of the "
              "runs;\n   ms CPU: the system's CPU time a delivery, all its processes, setuid ones too; "
              "ratio: postern / Postfix)")
    finally:
        for s in reversed(systems):
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 (stop the others whatever happens)
                print(f"bench: stopping {s.name}: {e}", file=sys.stderr)
        for s in reversed(systems):
            s.meter.close()
        if systems:
            systems[0].inst.cleanup()
        remove_test_users()
