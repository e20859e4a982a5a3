// proxy: other users' folders as the user's own session serves them
// (imapd(8), "Shared folders"). This session runs as the user and cannot
// open another user's files; for a name under "Other Users.<owner>." or
// "Shared." it runs imapd-share(8), which starts the owner's imapd-mailbox
// in share mode on a socket, and relays: the client's command goes over
// as it came (its literals as LITERAL+), the owner's process checks it
// against the folder's ACL and answers, and every response comes back to
// the client byte for byte. While such a folder is selected the commands
// of the selected state go there too. LIST adds the namespaces' roots and
// each sharing owner's own LIST answer (conf-home/shares says who shares).
// Trusts the owner's process for its responses no more than the client
// would a server's: they are bounded in size and time, never parsed
// beyond their tags and literal lengths.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_pattern.hpp"
#include "imap/imap_shares.hpp"
#include "mail/conf.hpp"
#include "proxy.hpp"
#include "relay_text.hpp"
#include "session.hpp"
#include "watch.hpp"

namespace imapd {

Session::Proxy::~Proxy() {
  if (fd >= 0) ::close(fd);  // the owner's process reads the end and exits
  if (pid > 0) {
    for (int i = 0; i < 200 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) ::usleep(10000);
    if (::waitpid(pid, nullptr, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
}

bool Session::Proxy::fill(int seconds) {
  struct pollfd p {fd, POLLIN, 0};
  if (::poll(&p, 1, seconds * 1000) <= 0) return false;
  char chunk[65536];
  ssize_t n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return false;
  buf.append(chunk, static_cast<std::size_t>(n));
  return true;
}

bool Session::Proxy::line(std::string& out, int seconds) {
  for (;;) {
    auto e = buf.find("\r\n");
    if (e != std::string::npos) {
      out = buf.substr(0, e);
      buf.erase(0, e + 2);
      return true;
    }
    if (buf.size() > max_reply || !fill(seconds)) return false;
  }
}

bool Session::Proxy::exact(std::size_t n, std::string& out, int seconds) {
  while (buf.size() < n)
    if (!fill(seconds)) return false;
  out.append(buf, 0, n);
  buf.erase(0, n);
  return true;
}

bool Session::Proxy::response(std::string& out, int seconds) {
  out.clear();
  std::string l;
  for (;;) {
    if (!line(l, seconds)) return false;
    out += l + "\r\n";
    if (out.size() > max_reply) return false;
    // "{n}" at the end of a line: n bytes of a literal, then the rest.
    auto n = literal_at_end(l);
    if (!n) return true;
    if (n->size > max_reply || !exact(n->size, out, seconds)) return false;
  }
}

bool Session::Proxy::send(std::string_view bytes) { return write_all(fd, bytes); }

void Session::ProxyDeleter::operator()(Proxy* p) const { delete p; }

namespace {

std::string first_word_replaced(const std::string& raw, const std::string& tag) {
  auto sp = raw.find(' ');
  return sp == std::string::npos ? raw : tag + raw.substr(sp);
}

}  // namespace

// -- running the owner's process ----------------------------------------------

Session::ProxyPtr Session::spawn_owner(const std::string& owner, const std::string& enable) {
  int s[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) return nullptr;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(s[0]);
    ::close(s[1]);
    return nullptr;
  }
  if (pid == 0) {
    ::dup2(s[1], 0);
    ::dup2(s[1], 1);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    std::string prog = conf::path("bin/imapd-share");
    ::execl(prog.c_str(), "imapd-share", owner.c_str(), static_cast<char*>(nullptr));
    ::_exit(111);
  }
  ::close(s[1]);
  ProxyPtr p(new Proxy);
  p->owner = owner;
  p->pid = pid;
  p->fd = s[0];
  std::string greeting;
  if (!p->line(greeting, 30) || !greeting.starts_with("* PREAUTH")) return nullptr;
  if (!enable.empty()) {
    std::string r;
    p->send("p0 ENABLE " + enable + "\r\n");
    do {
      if (!p->response(r, 30)) return nullptr;
    } while (!r.starts_with("p0 "));
  }
  return p;
}

// -- routing --------------------------------------------------------------------

namespace {

bool one_of(const std::string& verb, std::initializer_list<const char*> verbs) {
  for (const char* v : verbs)
    if (verb == v) return true;
  return false;
}

}  // namespace

std::string Session::enabled_list() const {
  std::string enable;
  if (enabled_.condstore) enable += " CONDSTORE";
  if (enabled_.qresync) enable += " QRESYNC";
  if (enabled_.utf8) enable += " UTF8=ACCEPT";
  if (enabled_.rev2) enable += " IMAP4rev2";
  return enable.empty() ? enable : enable.substr(1);
}

std::string Session::relay(Proxy& px, const std::string& command, const std::string& t, bool tagged_to_client) {
  if (!px.send(literal_plus(command))) return "";
  bool idling = false;
  // Only an IDLE of the client's may take the client's next lines there:
  // a "+" the owner's process sends to anything else is no reason to.
  Parser q(command);
  auto t0 = q.atom();
  auto v = t0 && q.sp() ? q.atom() : std::nullopt;
  bool idle = v && upper(*v) == "IDLE";
  std::string r;
  for (;;) {
    if (idling && px.buf.find("\r\n") == std::string::npos) {
      io_.flush();
      Woke w = wait_for(io_, px.fd, idle_timeout);
      if (w == Woke::timeout) bye("Autologout; idle for too long", "timed out");
      if (w == Woke::input) {
        std::string l;
        auto got = io_.line(l, 1024);
        if (got != NetIO::Read::line && got != NetIO::Read::partial) std::_Exit(0);
        px.send(l + "\r\n");
        continue;
      }
    }
    if (!px.response(r, idling ? 5 : reply_wait)) return "";
    if (r.starts_with(t + " ")) {
      if (tagged_to_client) io_.put(r);
      return r.substr(0, r.size() - 2);
    }
    // IDLE's continuation: from here the client's DONE goes over too.
    if (r.starts_with("+")) idling = idle;
    // Out at once: a FETCH of a whole shared folder is never held here.
    io_.put(r);
    io_.flush();
  }
}

std::string Session::to_owner(const std::string& owner, const std::string& tag, const std::string& command,
                              bool tagged_to_client) {
  ProxyPtr once;
  Proxy* px = proxy_ && proxy_->owner == owner ? proxy_.get() : nullptr;
  if (!px) {
    once = spawn_owner(owner, enabled_list());
    px = once.get();
  }
  if (!px) return "";
  return relay(*px, command, tag, tagged_to_client);
}

void Session::forward_to_owner(const std::string& owner, const std::string& tag, const std::string& command) {
  if (to_owner(owner, tag, command, true).empty()) {
    log::line("{}: the process of {}'s folders could not be had", who_, log::printable(owner, 64));
    no(tag, "[UNAVAILABLE] Another user's folders could not be reached");
  }
}

namespace {

bool uid_command(const std::string& raw) {
  Parser q(raw);
  auto t = q.atom();
  auto w = t && q.sp() ? q.atom() : std::nullopt;
  return w && upper(*w) == "UID";
}

// The status word of a tagged line ("a1 OK ..." -> "OK").
std::string status_of_tagged(const std::string& line, const std::string& tag) {
  if (line.size() <= tag.size() + 1) return "";
  std::string rest = line.substr(tag.size() + 1);
  return rest.substr(0, rest.find(' '));
}

}  // namespace

bool Session::route_shared(const std::string& raw, const std::string& tag, const std::string& verb, Parser p) {
  std::string enable = enabled_list();

  auto lost = [&](const std::string& owner) {
    log::line("{}: the process of {}'s folders went away", who_, log::printable(owner, 64));
    no(tag, "[UNAVAILABLE] Another user's folders could not be reached");
  };

  static const std::initializer_list<const char*> selected_verbs = {
      "FETCH", "STORE", "SEARCH", "SORT", "THREAD", "COPY", "MOVE", "EXPUNGE",
      "CLOSE", "UNSELECT", "CHECK", "NOOP", "IDLE", "CANCELUPDATE"};
  if (proxy_ && proxy_->selected && one_of(verb, selected_verbs)) {
    if (verb == "COPY" || verb == "MOVE") {
      Parser q = p;
      std::optional<std::string> target;
      if (q.sp() && !q.word().empty() && q.sp()) target = q.astring();
      auto t = target ? split_shared(*target) : std::nullopt;
      if (target && (!t || t->owner != proxy_->owner)) {
        copy_across(tag, raw, uid_command(raw), verb == "MOVE");
        return true;
      }
    }
    std::string status = relay(*proxy_, raw, tag, true);
    if (status.empty()) {
      std::string owner = proxy_->owner;
      proxy_.reset();
      lost(owner);
    } else if (verb == "CLOSE" || verb == "UNSELECT") {
      proxy_.reset();
    }
    return true;
  }

  if (sel_ && (verb == "COPY" || verb == "MOVE")) {
    Parser q = p;
    std::optional<std::string> target;
    if (q.sp() && !q.word().empty() && q.sp()) target = q.astring();
    if (target && in_shared_namespace(*target)) {
      copy_across(tag, raw, uid_command(raw), verb == "MOVE");
      return true;
    }
    return false;
  }
  static const std::initializer_list<const char*> by_name = {
      "SELECT", "EXAMINE", "STATUS", "CREATE", "DELETE", "RENAME", "GETACL", "SETACL",
      "DELETEACL", "LISTRIGHTS", "MYRIGHTS", "GETQUOTAROOT", "APPEND"};
  if (!one_of(verb, by_name)) return false;
  Parser q = p;
  std::optional<std::string> name;
  if (q.sp()) name = q.astring();
  if (!name) return false;  // the command's own parser says what is wrong
  bool shared = in_shared_namespace(*name);
  if (verb == "SELECT" || verb == "EXAMINE") {
    if (!shared) {
      if (proxy_) {
        if (proxy_->selected) io_.put("* OK [CLOSED] Previous mailbox closed\r\n");
        proxy_.reset();
      }
      return false;
    }
  } else if (!shared) {
    return false;
  }
  auto sn = split_shared(*name);
  if (!sn) {
    no(tag, verb == "CREATE" ? "[CANNOT] Create folders inside another user's namespace"
                             : "[NONEXISTENT] No such mailbox");
    return true;
  }
  if (verb == "APPEND") {
    append_to_owner(tag, sn->owner);
    return true;
  }
  if (verb == "RENAME") {
    Parser r = q;
    std::optional<std::string> to;
    if (r.sp()) to = r.astring();
    auto tn = to ? split_shared(*to) : std::nullopt;
    if (!tn || tn->owner != sn->owner) {
      no(tag, "[CANNOT] A folder is renamed only within its owner's folders");
      return true;
    }
  }
  if (verb == "SELECT" || verb == "EXAMINE") {
    if (sel_) {
      io_.put("* OK [CLOSED] Previous mailbox closed\r\n");
      deselect();
    }
    if (proxy_ && proxy_->owner != sn->owner) proxy_.reset();
    if (!proxy_) proxy_ = spawn_owner(sn->owner, enable);
    if (!proxy_) {
      no(tag, "[NONEXISTENT] No such mailbox");
      return true;
    }
    std::string status = status_of_tagged(relay(*proxy_, raw, tag, true), tag);
    if (status.empty()) {
      proxy_.reset();
      lost(sn->owner);
    } else {
      proxy_->selected = status == "OK";
      if (!proxy_->selected) proxy_.reset();
    }
    return true;
  }
  if (to_owner(sn->owner, tag, raw, true).empty()) no(tag, "[NONEXISTENT] No such mailbox");
  return true;
}

void Session::list_shared(const std::string& raw, const std::vector<std::string>& patterns, bool lsub) {
  if (lsub || patterns.empty()) return;
  Identity me{user_, groups_of(user_), false};
  std::string pub = public_account();
  auto owners = owners_sharing_with(me);
  if (owners.empty()) return;
  ListMatcher m;
  for (auto& pat : patterns) m.add(pat);
  std::string other(other_users);
  bool any_other = std::any_of(owners.begin(), owners.end(), [&](const std::string& o) { return o != pub; });
  auto root_line = [&](const std::string& name) {
    if (m.matches(name)) io_.put(fmt::format("* LIST (\\Noselect \\HasChildren) \".\" {}\r\n", astring_out(name)));
  };
  if (any_other) root_line(other);
  if (std::find(owners.begin(), owners.end(), pub) != owners.end() && !pub.empty()) root_line(std::string(public_folders));
  std::string enable;
  if (enabled_.utf8) enable = "UTF8=ACCEPT";
  for (auto& owner : owners) {
    std::string prefix = share_prefix(owner);
    if (owner != pub) root_line(prefix.substr(0, prefix.size() - 1));
    // Only when a pattern can reach below the prefix: "%" stops at a dot.
    bool reaches = false;
    for (auto& pat : patterns) {
      auto wild = pat.find_first_of("*%");
      std::string lit = pat.substr(0, wild);
      if (pat.starts_with(prefix) || (wild != std::string::npos && pat[wild] == '*' && prefix.starts_with(lit)))
        reaches = true;
    }
    if (!reaches) continue;
    auto px = spawn_owner(owner, enable);
    if (!px) continue;
    std::string r;
    px->send(literal_plus(first_word_replaced(raw, "p1")));
    while (px->response(r, reply_wait) && !r.starts_with("p1 ")) {
      io_.put(r);
      io_.flush();
    }
  }
}

}  // namespace imapd
