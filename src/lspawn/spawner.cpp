// spawner: lspawn's event loop (spawner.hpp). A delivery goes
//   send's request -> open queue/mess/<id> (as root) -> wait for the lookup
//   process -> its answer, checked (no uid 0 or gid 0; the single-user
//   rule) -> an idle agent of that (uid, gid) and limits, or a new one ->
//   its answer -> the report to send.
// The parent forks only to start a child, reads only bounded records from
// them (agent_wire.hpp), never waits for one (poll, and SIGCHLD through a
// self-pipe), and turns a child that dies into a deferral of what it held.
#include "spawner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <list>
#include <optional>
#include <vector>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "children.hpp"
#include "delivery/agent_wire.hpp"
#include "mail/address.hpp"
#include "mail/conf.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/spawn_protocol.hpp"
#include "mail/status.hpp"
#include "mail/user_limits.hpp"

namespace postern::lspawn {

namespace {

using Clock = std::chrono::steady_clock;

// A lookup reads a cdb and the password database: a second at worst, but
// NSS may ask a network service. Past this it is killed and started again.
constexpr auto lookup_timeout = std::chrono::seconds(60);
// An agent idle this long exits; the next delivery to its user forks again.
constexpr auto agent_idle = std::chrono::seconds(10);
// Idle agents kept at most (busy ones are bounded by send's concurrencylocal).
constexpr std::size_t max_idle_agents = 32;

struct Job {
  unsigned long delnum = 0;
  std::string sender;
  Address rcpt;
  Fd mess;
};

struct Lookup {
  pid_t pid = -1;
  Fd sock;  // closed while it is going away: nothing is sent to it then
  std::optional<Job> job;
  Clock::time_point deadline;
};

struct Agent {
  pid_t pid = -1;
  Fd sock;  // closed once it is going away; the record stays until reaped
  uid_t uid = 0;
  gid_t gid = 0;
  UserLimits limits;
  std::optional<Job> job;
  Clock::time_point last_used;
  bool forwarder = false;  // one message to a mailbox host, then gone
};

int child_pipe[2] = {-1, -1};

void on_sigchld(int) {
  int saved = errno;
  [[maybe_unused]] auto n = ::write(child_pipe[1], "x", 1);
  errno = saved;
}

// A child is killed only while it is ours: pid -1 once reaped.
void kill_child(pid_t pid) {
  if (pid > 0) ::kill(pid, SIGKILL);
}

bool same(const UserLimits& a, const UserLimits& b) {
  return a.memory == b.memory && a.cpu == b.cpu && a.processes == b.processes && a.files == b.files;
}

std::string died_text(int st, bool forwarder) {
  if (forwarder)  // no limits of control/*local on it: any end without an answer is a crash
    return "the forwarder to the mailbox host ended without an answer (status " + std::to_string(st) + ")";
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    return "local was killed by signal " + std::to_string(sig) +
           (sig == SIGXCPU || sig == SIGKILL ? " (over its CPU time limit, control/cpulocal?)" : "");
  }
  return "local exited " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) + " without an answer";
}

class Spawner {
 public:
  explicit Spawner(std::string default_delivery) : default_delivery_(std::move(default_delivery)) {}
  int run();

 private:
  bool read_requests();
  void take_request(std::string_view line);
  void report(const Job& job, char result, std::string text);
  void flush_reports();
  void defer(const Job& job, std::string text) { report(job, status::deferred, std::move(text)); }
  bool start_lookup(std::string& why);
  void pump_lookups();
  void lookup_readable();
  void deliver(Job job, const MailUser& user);
  void forward(Job job, const std::string& mailhost);
  Agent* find_idle(uid_t uid, gid_t gid, const UserLimits& limits);
  Agent* start_agent(uid_t uid, gid_t gid, const UserLimits& limits);
  Agent& add_agent(pid_t pid, int sock, uid_t uid, gid_t gid);
  void agent_readable(Agent& a);
  void close_extra_idle();
  void reap();
  int expire(Clock::time_point now);

  std::string default_delivery_;
  std::deque<Job> waiting_;  // for the lookup process
  Lookup lookup_;
  std::list<Agent> agents_;  // a list: an Agent& stays valid while others come and go
  std::string in_;
  std::string out_;  // reports fd 1 has not taken yet
  bool discarding_ = false;  // the rest of a request line that was too long
};

void Spawner::report(const Job& job, char result, std::string text) {
  std::string t(trim(text));
  if (t.empty()) t = result == status::delivered ? "delivered" : "local gave no reason";
  out_ += spawn::encode(spawn::Report{job.delnum, result, t});
  flush_reports();
}

// send writes requests with blocking writes and reads reports only between
// them: were lspawn to block on a full report pipe, it would stop reading
// requests, and both would wait for ever. So reports wait in out_ (one per
// request send has made, so bounded by its concurrency) until fd 1 takes
// them, and requests are read all the while.
void Spawner::flush_reports() {
  while (!out_.empty()) {
    ssize_t n = ::write(1, out_.data(), out_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      out_.clear();  // send has gone: nobody is left to tell
      return;
    }
    out_.erase(0, static_cast<std::size_t>(n));
  }
}

bool Spawner::read_requests() {
  char buf[65536];
  ssize_t n = ::read(0, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  in_.append(buf, static_cast<std::size_t>(n));
  std::size_t start = 0;
  for (std::size_t nl; (nl = in_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    take_request(std::string_view(in_).substr(start, nl + 1 - start));
  }
  in_.erase(0, start);
  if (in_.size() > spawn::request_max) {
    log::line("refused a malformed request from send");
    in_.clear();
    discarding_ = true;
  }
  return true;
}

void Spawner::take_request(std::string_view line) {
  auto req = spawn::decode_request(line);
  if (!req || req->targets.size() != 1) {
    log::line("refused a malformed request from send");
    return;
  }
  Job job;
  job.delnum = req->targets[0].delnum;
  job.sender = req->sender;
  job.rcpt = split_address(req->targets[0].recipient);
  job.mess.reset(::open(queue_dirs::mess(req->id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!job.mess.ok()) return defer(job, "unable to open the message file: " + std::string(std::strerror(errno)));
  waiting_.push_back(std::move(job));
}

bool Spawner::start_lookup(std::string& why) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (!conf::single_user) {
    struct passwd* pw = ::getpwnam(conf::user_pw);
    if (!pw) {
      why = std::string("the user ") + conf::user_pw + " does not exist";
      return false;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  int sock = -1;
  pid_t pid = fork_child(sock, [&] { lookup_main(uid, gid); });
  if (pid < 0) {
    why = "unable to look up the recipient's user: unable to fork: " + std::string(std::strerror(errno));
    return false;
  }
  lookup_.pid = pid;
  lookup_.sock.reset(sock);
  return true;
}

void Spawner::pump_lookups() {
  while (!waiting_.empty() && !lookup_.job) {
    if (lookup_.pid < 0) {
      std::string why;
      if (!start_lookup(why)) {
        for (; !waiting_.empty(); waiting_.pop_front()) defer(waiting_.front(), why);
        return;
      }
    }
    if (!lookup_.sock.ok()) return;  // going away: started again once reaped
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    if (!delivery::send_record(lookup_.sock.get(), "L" + lower(job.rcpt.local) + '\0' + lower(job.rcpt.domain))) {
      defer(job, "unable to look up the recipient's user (getpw failed)");
      kill_child(lookup_.pid);
      lookup_.sock.reset();
      return;
    }
    lookup_.job = std::move(job);
    lookup_.deadline = Clock::now() + lookup_timeout;
  }
}

void Spawner::lookup_readable() {
  std::string bytes;
  int r = delivery::receive_record(lookup_.sock.get(), bytes);
  if (r < 0 && errno == EAGAIN) return;
  std::optional<delivery::LookupAnswer> a;
  if (r > 0) a = delivery::decode_lookup_answer(bytes);
  if (!a || !lookup_.job) {
    // Gone, or answering out of turn: it is not to be believed any more.
    // Reaping defers what it held and the next lookup starts a new one.
    if (r > 0) log::line("the lookup process gave a malformed answer");
    kill_child(lookup_.pid);
    lookup_.sock.reset();
    return;
  }
  Job job = std::move(*lookup_.job);
  lookup_.job.reset();
  if (!a->mailhost.empty()) return forward(std::move(job), a->mailhost);
  if (!a->user)
    return defer(job, "unable to look up the recipient's user: " + log::printable(trim(a->error), 200));
  const MailUser& user = *a->user;
  // Mail is never delivered as root in a real install; a single-user
  // instance delivers everything as the one user that runs it.
  if (conf::single_user ? user.uid != ::getuid() : (user.uid == 0 || user.gid == 0))
    return defer(job, "refused to deliver as uid " + std::to_string(user.uid) + " gid " + std::to_string(user.gid));
  deliver(std::move(job), user);
}

Agent* Spawner::find_idle(uid_t uid, gid_t gid, const UserLimits& limits) {
  for (auto& a : agents_)
    if (!a.job && a.sock.ok() && !a.forwarder && a.uid == uid && a.gid == gid && same(a.limits, limits)) return &a;
  return nullptr;
}

Agent* Spawner::start_agent(uid_t uid, gid_t gid, const UserLimits& limits) {
  // RLIMIT_CPU counts the whole life of a process: the agent gets twice
  // control/cpulocal and retires once it has used cpulocal, so every
  // delivery it starts still has at least cpulocal.
  UserLimits own = limits;
  own.cpu = limits.cpu * 2;
  int sock = -1;
  pid_t pid = fork_child(sock, [&] { agent_main(uid, gid, own, limits.cpu); });
  if (pid < 0) return nullptr;
  Agent& a = add_agent(pid, sock, uid, gid);
  a.limits = limits;
  return &a;
}

Agent& Spawner::add_agent(pid_t pid, int sock, uid_t uid, gid_t gid) {
  Agent& a = agents_.emplace_back();
  a.pid = pid;
  a.sock.reset(sock);
  a.uid = uid;
  a.gid = gid;
  a.last_used = Clock::now();
  return a;
}

void Spawner::deliver(Job job, const MailUser& user) {
  std::string why;
  auto limits = load_user_limits("local", why);
  if (!limits) return defer(job, why);
  // The lookup worked on the lowercased local part; local gets the
  // extension as it was written (it lowercases it for file names itself),
  // so DEFAULT and EXT keep the sender's case.
  const Address& rcpt = job.rcpt;
  std::string ext = user.ext;
  if (ext.size() <= rcpt.local.size() && lower(rcpt.local.substr(rcpt.local.size() - ext.size())) == ext)
    ext = rcpt.local.substr(rcpt.local.size() - ext.size());
  delivery::LocalArgs args{user.user, user.home, rcpt.local, user.dash, ext, rcpt.domain, job.sender,
                           default_delivery_, false};
  std::string req = delivery::encode_agent_request(args);
  if (req.size() > delivery::max_record) return defer(job, "the delivery's arguments are too long");
  // An idle agent may have gone meanwhile (killed, or retired): then the
  // send fails at once and a new agent takes the delivery.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Agent* a = find_idle(user.uid, user.gid, *limits);
    if (!a) a = start_agent(user.uid, user.gid, *limits);
    if (!a) return defer(job, "unable to run local: " + std::string(std::strerror(errno)));
    if (delivery::send_record(a->sock.get(), req, job.mess.get())) {
      a->job = std::move(job);
      return;
    }
    why = std::strerror(errno);
    kill_child(a->pid);
    a->sock.reset();
  }
  defer(job, "unable to pass the message to local: " + why);
}

// The directory places the recipient on another mailbox host: a
// forwarder, as posternr, runs remote for it (children.hpp). Its answer
// comes back as an agent's.
void Spawner::forward(Job job, const std::string& mailhost) {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (!conf::single_user) {
    struct passwd* pw = ::getpwnam(conf::user_remote);
    if (!pw) return defer(job, std::string("unable to find the user ") + conf::user_remote);
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  std::string req = encode_forward_request(mailhost, job.sender, job.rcpt.local + "@" + job.rcpt.domain);
  int sock = -1;
  pid_t pid = fork_child(sock, [&] { forward_main(uid, gid); });
  if (pid < 0) return defer(job, "unable to fork a forwarder: " + std::string(std::strerror(errno)));
  Agent& a = add_agent(pid, sock, uid, gid);
  a.forwarder = true;
  if (!delivery::send_record(a.sock.get(), req, job.mess.get())) {
    kill_child(a.pid);
    a.sock.reset();
    return defer(job, "unable to pass the message to the forwarder: " + std::string(std::strerror(errno)));
  }
  a.job = std::move(job);
}

void Spawner::agent_readable(Agent& a) {
  std::string bytes;
  int r = delivery::receive_record(a.sock.get(), bytes);
  if (r < 0 && errno == EAGAIN) return;
  std::optional<delivery::AgentAnswer> answer;
  if (r > 0) answer = delivery::decode_agent_answer(bytes);
  const delivery::Outcome* o = answer ? &answer->outcome : nullptr;
  if (!o || !a.job) {
    // End of file (it exited; reaping reports what it held) or an answer
    // that cannot be believed: either way this agent is done.
    if (r > 0) log::line("local (pid {}) gave a malformed answer", a.pid);
    if (r > 0 || a.job) kill_child(a.pid);
    a.sock.reset();
    return;
  }
  char result = o->ok() ? status::delivered : o->code == status::permanent ? status::failed : status::deferred;
  report(*a.job, result, o->text);
  a.job.reset();
  a.last_used = Clock::now();
  // A retiring agent exits now: nothing more may be sent to it.
  if (answer->last) a.sock.reset();
  close_extra_idle();
}

void Spawner::close_extra_idle() {
  std::vector<Agent*> idle;
  for (auto& a : agents_)
    if (!a.job && a.sock.ok()) idle.push_back(&a);
  if (idle.size() <= max_idle_agents) return;
  auto oldest = std::min_element(idle.begin(), idle.end(),
                                 [](Agent* x, Agent* y) { return x->last_used < y->last_used; });
  (*oldest)->sock.reset();  // it sees end of file and exits
}

void Spawner::reap() {
  char buf[64];
  while (::read(child_pipe[0], buf, sizeof buf) > 0) {
  }
  int st = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &st, WNOHANG)) > 0) {
    if (pid == lookup_.pid) {
      // Reaped: its pid may belong to another process from now on, so
      // nothing below may signal it.
      lookup_.pid = -1;
      if (lookup_.sock.ok() && lookup_.job) lookup_readable();  // it may have answered, then died
      if (lookup_.job) defer(*lookup_.job, "unable to look up the recipient's user (getpw failed)");
      lookup_ = Lookup{};
      continue;
    }
    auto it = std::find_if(agents_.begin(), agents_.end(), [&](const Agent& a) { return a.pid == pid; });
    if (it == agents_.end()) continue;
    it->pid = -1;  // reaped: never to be signalled again
    if (it->sock.ok() && it->job) agent_readable(*it);  // its last answer may still wait
    if (it->job) defer(*it->job, died_text(st, it->forwarder));
    agents_.erase(it);
  }
}

// Kills a lookup that takes too long, lets idle agents go; returns the
// milliseconds until the next such deadline.
int Spawner::expire(Clock::time_point now) {
  auto next = now + std::chrono::seconds(30);
  if (lookup_.job && lookup_.sock.ok()) {
    if (now >= lookup_.deadline) {
      log::line("the lookup process took more than {} seconds; killed it", lookup_timeout.count());
      kill_child(lookup_.pid);
      lookup_.sock.reset();
    } else {
      next = std::min(next, lookup_.deadline);
    }
  }
  for (auto& a : agents_) {
    if (a.job || !a.sock.ok()) continue;
    if (now - a.last_used >= agent_idle) a.sock.reset();
    else next = std::min(next, a.last_used + agent_idle);
  }
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()) + 1;
}

int Spawner::run() {
  if (::pipe2(child_pipe, O_CLOEXEC | O_NONBLOCK) != 0) log::die(status::temporary, "unable to make a pipe");
  struct sigaction sa {};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCHLD, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int flags = ::fcntl(1, F_GETFL);
  if (flags < 0 || ::fcntl(1, F_SETFL, flags | O_NONBLOCK) != 0)
    log::die(status::temporary, "unable to make the report pipe non-blocking: " + std::string(std::strerror(errno)));
  std::vector<struct pollfd> fds;
  std::vector<Agent*> polled;
  for (;;) {
    reap();
    pump_lookups();
    int timeout = expire(Clock::now());
    fds.clear();
    polled.clear();
    fds.push_back({0, POLLIN, 0});
    fds.push_back({child_pipe[0], POLLIN, 0});
    fds.push_back({lookup_.sock.ok() ? lookup_.sock.get() : -1, POLLIN, 0});
    fds.push_back({out_.empty() ? -1 : 1, POLLOUT, 0});
    for (auto& a : agents_) {
      if (!a.sock.ok()) continue;
      fds.push_back({a.sock.get(), POLLIN, 0});
      polled.push_back(&a);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      log::die(status::temporary, "poll failed: " + std::string(std::strerror(errno)));
    }
    if (fds[3].revents) flush_reports();
    if (fds[2].revents && lookup_.sock.ok()) lookup_readable();
    for (std::size_t i = 0; i < polled.size(); ++i)
      if (fds[i + 4].revents && polled[i]->sock.ok()) agent_readable(*polled[i]);
    // send gone: lspawn exits; its children see end of file and exit
    // after what they are doing, as send will ask again for what is left.
    if (fds[0].revents && !read_requests()) return status::ok;
  }
}

}  // namespace

int run(const std::string& default_delivery) {
  Spawner s(default_delivery);
  return s.run();
}

}  // namespace postern::lspawn
