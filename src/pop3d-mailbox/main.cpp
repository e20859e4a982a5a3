// pop3d-mailbox: pop3d's mailbox stage, the POP3 transaction state (RFC
// 1939) over one Maildir. checkpassword starts it as the mail's owner, in
// the owner's home directory, with the client on descriptors 0 and 1:
//
//   checkpassword pop3d-mailbox [maildir]     (maildir defaults to Maildir)
//
// Runs as: the mail's owner, never root (it refuses, exit 111, in a
// multi-user install). Trusts: the owner's Maildir, and USER and
// TCPREMOTEIP for its log lines only; nothing the client sends (lines are
// bounded, commands checked against pop3::verbs, message numbers against
// the snapshot).
//
// It moves new/ to cur/, takes a snapshot of cur/ (later deliveries are
// not part of the session), answers "+OK" for the login and serves the
// TRANSACTION state's commands: STAT LIST UIDL RETR TOP DELE RSET NOOP
// CAPA QUIT.
// Deletions, and the S flag on retrieved messages, happen at QUIT only; a
// dropped connection or a timeout changes nothing. Before its "+OK" it
// exits 111 (status::temporary) on any failure without writing (pop3d
// then answers -ERR); after it, it always exits 0. See pop3d(8).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "base/deadline.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"
#include "mail/maildir_list.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/over_quota.hpp"
#include "base/netio.hpp"
#include "pop3/pop3.hpp"

using namespace postern;

namespace {

constexpr int max_errors = 50;

class Session {
 public:
  Session(std::string dir, std::vector<maildir::Message> msgs, NetIO& io, std::string who)
      : dir_(std::move(dir)), msgs_(std::move(msgs)), io_(io), who_(std::move(who)),
        deleted_(msgs_.size(), false), retrieved_(msgs_.size(), false) {}

  [[noreturn]] void run() {
    std::uint64_t total = 0;
    for (auto& m : msgs_) total += m.size;
    io_.put(fmt::format("+OK maildrop has {} message{} ({} octets)\r\n", msgs_.size(),
                        msgs_.size() == 1 ? "" : "s", total));
    std::string line;
    for (;;) {
      auto r = io_.line(line, pop3::max_line);
      if (r == NetIO::Read::timeout) {
        io_.put("-ERR autologout: idle for too long\r\n");
        io_.flush();
        log::line("{}: timed out; nothing deleted", who_);
        std::_Exit(status::ok);
      }
      if (r == NetIO::Read::eof || r == NetIO::Read::error) {
        log::line("{}: connection dropped; nothing deleted", who_);
        std::_Exit(status::ok);
      }
      if (r == NetIO::Read::partial) {
        std::string rest;
        while ((r = io_.line(rest, pop3::max_line)) == NetIO::Read::partial) {
        }
        if (r != NetIO::Read::line) std::_Exit(status::ok);
        error("-ERR line too long");
        continue;
      }
      auto cmd = pop3::parse_command(line);
      if (!cmd) {
        error("-ERR unknown command");
        continue;
      }
      handle(*cmd);
    }
  }

 private:
  void error(const std::string& text) {
    io_.put(text + "\r\n");
    if (++errors_ >= max_errors) {
      io_.put("-ERR too many errors\r\n");
      io_.flush();
      log::line("{}: too many errors; nothing deleted", who_);
      std::_Exit(status::ok);
    }
  }

  // The message named by arg, 0-based; nullopt after replying -ERR.
  std::optional<std::size_t> which(const std::string& arg) {
    auto n = pop3::message_number(arg, msgs_.size());
    if (!n) {
      error("-ERR no such message");
      return std::nullopt;
    }
    if (deleted_[*n - 1]) {
      error("-ERR message " + arg + " already deleted");
      return std::nullopt;
    }
    return *n - 1;
  }

  void handle(const pop3::Command& c) {
    std::string why = pop3::refusal(c, pop3::State::transaction);
    if (!why.empty()) return error(why);
    for (const Handler& h : handlers)
      if (h.name == c.verb) return (this->*h.run)(c);
  }

  void stat(const pop3::Command&) {
    std::size_t n = 0;
    std::uint64_t size = 0;
    for (std::size_t i = 0; i < msgs_.size(); ++i)
      if (!deleted_[i]) ++n, size += msgs_[i].size;
    io_.put(fmt::format("+OK {} {}\r\n", n, size));
  }

  void list(const pop3::Command& c) { listing(c, false); }
  void uidl(const pop3::Command& c) { listing(c, true); }

  void listing(const pop3::Command& c, bool uidl) {
    auto value = [&](std::size_t i) { return uidl ? pop3::uidl_of(msgs_[i].name) : std::to_string(msgs_[i].size); };
    if (c.args.size() == 1) {
      auto i = which(c.args[0]);
      if (i) io_.put(fmt::format("+OK {} {}\r\n", *i + 1, value(*i)));
      return;
    }
    io_.put(uidl ? "+OK unique-id listing follows\r\n" : "+OK scan listing follows\r\n");
    for (std::size_t i = 0; i < msgs_.size(); ++i)
      if (!deleted_[i]) io_.put(fmt::format("{} {}\r\n", i + 1, value(i)));
    io_.put(".\r\n");
  }

  void retr(const pop3::Command& c) {
    auto i = which(c.args[0]);
    if (i && send(*i, -1)) retrieved_[*i] = true;
  }

  void top(const pop3::Command& c) {
    auto lines = pop3::count(c.args[1]);
    if (!lines || *lines > 1000000000ULL) return error("-ERR bad line count");
    auto i = which(c.args[0]);
    if (i) send(*i, static_cast<long long>(*lines));
  }

  void dele(const pop3::Command& c) {
    auto i = which(c.args[0]);
    if (!i) return;
    deleted_[*i] = true;
    io_.put(fmt::format("+OK message {} deleted\r\n", *i + 1));
  }

  void rset(const pop3::Command&) {
    deleted_.assign(msgs_.size(), false);
    io_.put(fmt::format("+OK maildrop has {} messages\r\n", msgs_.size()));
  }

  void noop(const pop3::Command&) { io_.put("+OK\r\n"); }

  void capa(const pop3::Command&) {
    io_.put("+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "EXPIRE NEVER\r\nIMPLEMENTATION postern\r\n.\r\n");
  }

  void quit(const pop3::Command&) { finish(); }

  // RETR (lines < 0) or TOP. False when the message could not be read.
  bool send(std::size_t i, long long lines) {
    Fd fd(::open((dir_ + "/cur/" + msgs_[i].name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.ok()) {
      error("-ERR [SYS/TEMP] cannot read message " + std::to_string(i + 1) + ": " + std::strerror(errno));
      return false;
    }
    io_.put(lines < 0 ? fmt::format("+OK {} octets\r\n", msgs_[i].size) : std::string("+OK top of message follows\r\n"));
    pop3::Transfer t(lines);
    char buf[65536];
    std::string out;
    while (!t.done()) {
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;  // a read error mid-message: end it as it is
      out.clear();
      t.feed(std::string_view(buf, static_cast<std::size_t>(r)), out);
      io_.put(out);
      if (!io_.flush()) {
        log::line("{}: write to the client failed; nothing deleted", who_);
        std::_Exit(status::ok);
      }
    }
    out.clear();
    t.finish(out);
    io_.put(out);
    return true;
  }

  // QUIT: the deletions and flags of the session happen now.
  [[noreturn]] void finish() {
    std::size_t deleted = 0, failed = 0, left = 0, retrieved = 0;
    maildir_quota::Usage freed;  // Maildir++: taken off maildirsize
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
      std::string path = dir_ + "/cur/" + msgs_[i].name;
      if (deleted_[i]) {
        std::uint64_t size = maildir_quota::message_size(dir_ + "/cur", msgs_[i].name);
        if (::unlink(path.c_str()) == 0) {
          freed.bytes += static_cast<std::int64_t>(size);
          ++freed.messages;
          ++deleted;
        } else if (errno == ENOENT) {
          ++deleted;
        } else {
          ++failed;
        }
        continue;
      }
      ++left;
      if (retrieved_[i]) {
        ++retrieved;
        std::string to = maildir::with_flag(msgs_[i].name, 'S');
        if (to != msgs_[i].name) ::rename(path.c_str(), (dir_ + "/cur/" + to).c_str());
      }
    }
    if (deleted) fsync_dir(dir_ + "/cur");
    if (freed.messages) {
      maildir_quota::record(dir_, -freed.bytes, -freed.messages);
      if (const char* user = std::getenv("USER")) over_quota::recheck(user, dir_);
    }
    if (failed)
      io_.put(fmt::format("-ERR [SYS/TEMP] {} message(s) could not be deleted\r\n", failed));
    else
      io_.put(fmt::format("+OK {} message{} deleted, {} left\r\n", deleted, deleted == 1 ? "" : "s", left));
    io_.flush();
    log::line("{}: quit: {} deleted, {} retrieved and kept, {} left{}", who_, deleted, retrieved, left,
              failed ? fmt::format(", {} not deleted", failed) : std::string());
    std::_Exit(status::ok);
  }

  // The commands of the TRANSACTION state; pop3::verbs says which they are
  // and how many arguments each takes.
  struct Handler {
    std::string_view name;
    void (Session::*run)(const pop3::Command& c);
  };
  static constexpr Handler handlers[] = {
      {"STAT", &Session::stat}, {"LIST", &Session::list}, {"UIDL", &Session::uidl}, {"RETR", &Session::retr},
      {"TOP", &Session::top},   {"DELE", &Session::dele}, {"RSET", &Session::rset}, {"NOOP", &Session::noop},
      {"CAPA", &Session::capa}, {"QUIT", &Session::quit},
  };
  static_assert(pop3::covers(handlers, pop3::State::transaction));

  std::string dir_;
  std::vector<maildir::Message> msgs_;
  NetIO& io_;
  std::string who_;
  std::vector<bool> deleted_, retrieved_;
  int errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  log::set_program("pop3d-mailbox");
  std::signal(SIGPIPE, SIG_IGN);
  if (argc > 2) log::die(status::temporary, "usage: pop3d-mailbox [maildir]");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0))
    log::die(status::temporary, "refusing to run as root");
  std::string dir = argc == 2 ? argv[1] : "Maildir";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const char* user = std::getenv("USER");
  const char* ip = std::getenv("TCPREMOTEIP");
  std::string who = log::printable(user ? user : "?", 64) + " from " + log::printable(ip ? ip : "unknown", 64);

  auto timeout = control::number("timeoutpop3d", 600);
  if (!timeout || *timeout == 0 || *timeout > 86400) log::die(status::temporary, "bad control/timeoutpop3d");
  auto deadline = control::number("deadlinepop3d", 3600);
  if (!deadline) log::die(status::temporary, "bad control/deadlinepop3d");
  struct stat st {};
  if (::stat((dir + "/cur").c_str(), &st) != 0 || ::stat((dir + "/new").c_str(), &st) != 0)
    log::die(status::temporary, who + ": no Maildir " + dir + " (new/ and cur/)");
  if (maildir::move_new_to_cur(dir) < 0)
    log::die(status::temporary, who + ": cannot read " + dir + "/new: " + std::strerror(errno));
  std::vector<maildir::Message> msgs;
  if (!maildir::list_cur(dir, msgs))
    log::die(status::temporary, who + ": cannot read " + dir + "/cur: " + std::strerror(errno));
  log::line("{}: logged in, {} message{}", who, msgs.size(), msgs.size() == 1 ? "" : "s");

  // The per-read timeout lets a client that sends a byte a minute stay
  // for ever; the deadline does not. Nothing is deleted when it passes.
  FdTransport fd_transport(0, 1);
  DeadlineTransport t(fd_transport);
  t.add(*deadline, "-ERR [SYS/TEMP] session time limit reached; nothing deleted\r\n",
        fmt::format("{}: session time limit ({} seconds, control/deadlinepop3d) reached", who, *deadline));
  NetIO io(t, static_cast<int>(*timeout));
  Session s(dir, std::move(msgs), io, who);
  s.run();
}
