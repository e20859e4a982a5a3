// pop3d's pre-auth stage: runs as posternd (conf-users' daemon user) and
// speaks POP3 with the client until a login succeeds. It knows no
// passwords: it passes each attempt to the parent as a checkpassword
// request and waits for one byte back. Everything it reads is bounded
// (pop3::max_line a line, max_errors bad commands, cfg.timeout seconds of
// silence).
//
// Behind tlsd it also runs STLS (RFC 2595): after "+OK Begin TLS
// negotiation" every byte the client sent in clear is thrown away and the
// session starts over (no USER remembered). Without TLS, a client that is
// not on this host may not log in (cfg.plaintext_ok).
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <utility>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "mail/status.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "login/sasl_plain.hpp"
#include "base/netio.hpp"
#include "pop3/pop3.hpp"
#include "pop3d.hpp"
#include "base/secret.hpp"
#include "base/unique.hpp"

using namespace postern;

namespace pop3d {

namespace {

constexpr int max_errors = 20;

class Session {
 public:
  Session(Config& cfg, int fd, NetIO& io) : cfg_(cfg), fd_(fd), io_(io) {
    timestamp_ = "<" + std::to_string(::getpid()) + "." + std::to_string(std::time(nullptr)) + "." +
                 random_hex(6) + "@" + cfg.me + ">";
  }

  [[noreturn]] void run() {
    if (cfg_.tls && cfg_.tls->implicit()) {
      // Port 995: nothing is said before the handshake is done.
      if (!cfg_.tls->wait_implicit(cfg_.timeout)) std::_Exit(status::ok);
      log_tls();
    }
    io_.put("+OK " + cfg_.me + " POP3 server ready " + timestamp_ + "\r\n");
    std::string line;
    line.reserve(pop3::max_line + 1);
    for (;;) {
      auto r = io_.line(line, pop3::max_line);
      if (r == NetIO::Read::timeout) {
        io_.put("-ERR autologout: idle for too long\r\n");
        io_.flush();
        end();
      }
      if (r == NetIO::Read::eof || r == NetIO::Read::error) end();
      if (r == NetIO::Read::partial) {
        secret::wipe(line);
        skip_rest();
        error("-ERR line too long");
        continue;
      }
      auto cmd = pop3::parse_command(line);
      secret::wipe(line);
      if (!cmd) {
        error("-ERR unknown command");
        continue;
      }
      handle(*cmd);
      secret::wipe(cmd->rest);
      for (auto& a : cmd->args) secret::wipe(a);
    }
  }

 private:
  [[noreturn]] void end() {
    io_.flush();
    std::_Exit(status::ok);
  }

  void error(std::string_view text) {
    io_.put(std::string(text) + "\r\n");
    if (++errors_ >= max_errors) {
      io_.put("-ERR too many errors\r\n");
      end();
    }
  }

  void skip_rest() {
    std::string rest;
    for (;;) {
      auto r = io_.line(rest, pop3::max_line);
      secret::wipe(rest);
      if (r == NetIO::Read::line) return;
      if (r != NetIO::Read::partial) end();
    }
  }

  void handle(pop3::Command& c) {
    std::string why = pop3::refusal(c, pop3::State::authorization);
    if (!why.empty()) return error(why);
    for (const Handler& h : handlers)
      if (h.name == c.verb) return (this->*h.run)(c);
  }

  bool tls_active() const { return cfg_.tls && cfg_.tls->active(); }
  bool can_stls() const { return cfg_.tls && cfg_.tls->can_start(); }
  bool plaintext_allowed() const { return cfg_.plaintext_ok || tls_active(); }

  void log_tls() { log::line("client {}: {}", client(), postern::tls::describe(cfg_.tls->facts())); }

  static std::string client() {
    const char* ip = std::getenv("TCPREMOTEIP");
    return ip ? log::printable(ip, 64) : std::string("unknown");
  }

  // RFC 2595 4: a password may not cross the network in clear; USER and
  // SASL PLAIN are not even offered then.
  void refuse_plaintext(const pop3::Command& c) {
    log::line("client {}: {} refused: no TLS and not a loopback client (control/plaintextlogin)", client(), c.verb);
    error(can_stls() ? "-ERR [AUTH] Plaintext authentication is disabled; use STLS first"
                     : "-ERR [AUTH] Plaintext authentication is disabled on this connection");
  }

  void capa(pop3::Command&) {
    std::string caps = "+OK capability list follows\r\nTOP\r\nUIDL\r\n";
    if (plaintext_allowed()) caps += "USER\r\n";
    caps += "RESP-CODES\r\nAUTH-RESP-CODE\r\n";
    if (plaintext_allowed()) caps += "SASL PLAIN\r\n";
    if (can_stls()) caps += "STLS\r\n";
    io_.put(caps + "EXPIRE NEVER\r\nIMPLEMENTATION postern\r\n.\r\n");
  }

  void quit(pop3::Command&) {
    io_.put("+OK " + cfg_.me + " closing connection\r\n");
    end();
  }

  void user(pop3::Command& c) {
    if (!plaintext_allowed()) return refuse_plaintext(c);
    if (!login::valid_user(c.args[0])) return error("-ERR bad user name");
    user_ = c.args[0];
    io_.put("+OK send PASS\r\n");
  }

  void pass(pop3::Command& c) {
    if (!plaintext_allowed()) return refuse_plaintext(c);
    if (user_.empty()) return error("-ERR send USER first");
    if (c.rest.empty() || c.rest.size() > 512) return error("-ERR bad password");
    std::string user = std::move(user_);
    user_.clear();
    login(user, c.rest, "");
  }

  void apop(pop3::Command& c) {
    if (!plaintext_allowed()) return refuse_plaintext(c);
    if (!login::valid_user(c.args[0]) || c.args[1].size() != 32) return error("-ERR usage: APOP name digest");
    user_.clear();
    login(c.args[0], c.args[1], timestamp_);
  }

  void stls(pop3::Command&) {
    if (tls_active()) return error("-ERR TLS is already on");
    if (!can_stls()) return error("-ERR STLS is not available");
    io_.put("+OK Begin TLS negotiation\r\n");
    if (!io_.flush()) end();
    // Everything the client sent before the handshake was in clear and
    // may be an attacker's: start() has NetIO drop it, and tlsd drops
    // nothing after, so the first command read now came over TLS.
    if (!cfg_.tls->start(0, [this] { io_.discard_input(); }, cfg_.timeout)) {
      log::line("client {}: TLS negotiation failed ({}); closing", client(), cfg_.tls->error());
      std::_Exit(status::ok);
    }
    secret::wipe(user_);
    user_.clear();
    log_tls();
  }

  void auth(pop3::Command& c) {
    if (!plaintext_allowed()) {
      if (c.args.empty()) return io_.put("+OK methods follow\r\n.\r\n");
      return refuse_plaintext(c);
    }
    if (c.args.empty()) {
      io_.put("+OK methods follow\r\nPLAIN\r\n.\r\n");
      return;
    }
    std::string mech = c.args[0];
    for (auto& ch : mech)
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (mech != "PLAIN") return error("-ERR unsupported authentication mechanism");
    secret::String response;
    if (c.args.size() == 2) {
      response.get() = c.args[1];
    } else {
      io_.put("+ \r\n");
      auto r = io_.line(response.get(), pop3::max_line);
      if (r == NetIO::Read::partial) {
        skip_rest();
        return error("-ERR line too long");
      }
      if (r != NetIO::Read::line) end();
      std::string_view sv = response.get();
      while (!sv.empty() && (sv.back() == '\n' || sv.back() == '\r')) sv.remove_suffix(1);
      response.get().resize(sv.size());
    }
    login::PlainLogin plain;
    switch (login::judge_plain(response.get(), plain)) {
      case login::PlainVerdict::cancelled: return error("-ERR authentication cancelled");
      case login::PlainVerdict::malformed: return error("-ERR [AUTH] malformed AUTH PLAIN response");
      case login::PlainVerdict::other_user: return error("-ERR [AUTH] no authorization as another user");
      case login::PlainVerdict::refused: return error("-ERR [AUTH] authentication failed");
      case login::PlainVerdict::login: break;
    }
    login(plain.user, plain.password, "");
  }

  void login(const std::string& user, const std::string& password, const std::string& timestamp) {
    secret::String req(login::encode_request(user, password, timestamp));
    if (io_.buffered() > 0) {
      // Commands sent before the answer to the login would be lost to the
      // mailbox stage (PIPELINING is not advertised).
      return error("-ERR do not send commands before the answer to the login");
    }
    io_.flush();
    int reply = login::ask(fd_, req.get());
    if (reply == login::send_failed) {
      io_.put("-ERR [SYS/TEMP] temporary problem; try again later\r\n");
      end();
    }
    if (reply == login::no_answer) end();
    switch (reply) {
      case login::reply_done:
        std::_Exit(status::ok);  // the mailbox stage served the client
      case login::reply_refused:
        return error("-ERR [AUTH] authentication failed");
      case login::reply_too_many:
        io_.put("-ERR [AUTH] authentication failed; too many failures\r\n");
        end();
      default:
        io_.put("-ERR [SYS/TEMP] temporary problem; try again later\r\n");
    }
  }

  // The commands of the AUTHORIZATION state; pop3::verbs says which they
  // are and how many arguments each takes.
  struct Handler {
    std::string_view name;
    void (Session::*run)(pop3::Command& c);
  };
  static constexpr Handler handlers[] = {
      {"USER", &Session::user}, {"PASS", &Session::pass}, {"APOP", &Session::apop}, {"AUTH", &Session::auth},
      {"STLS", &Session::stls}, {"CAPA", &Session::capa}, {"QUIT", &Session::quit},
  };
  static_assert(pop3::covers(handlers, pop3::State::authorization));

  Config& cfg_;
  int fd_;
  NetIO& io_;
  std::string timestamp_;
  std::string user_;
  int errors_ = 0;
};

}  // namespace

void preauth(Config cfg, int fd) {
  FdTransport t(0, 1);
  NetIO io(t, cfg.timeout);
  Session s(cfg, fd, io);
  s.run();
}

}  // namespace pop3d
