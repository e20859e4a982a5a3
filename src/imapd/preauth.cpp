// imapd's pre-auth stage: runs as posternd (conf-users' daemon user) and
// speaks IMAP's not-authenticated state with the client until LOGIN or
// AUTHENTICATE PLAIN succeeds. It knows no passwords: it passes each
// attempt to the parent ("tag\n" + checkpassword request) and waits for
// one byte back; on success the mailbox stage, started by checkpassword
// as the user, has answered the tagged OK and served the session. Every
// input is bounded (imap::Limits, a small literal limit, max_errors bad
// commands, cfg.timeout seconds of silence).
//
// Behind tlsd it also runs STARTTLS (RFC 3501 6.2.1, RFC 2595): after
// "OK Begin TLS negotiation now" every byte the client sent in clear is
// thrown away, and the client must ask for CAPABILITY again. Without TLS,
// a client that is not on this host sees LOGINDISABLED and may not log
// in (cfg.plaintext_ok).
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>

#include <sodium.h>

#include "imap/imap_id.hpp"
#include "imap/imap_parse.hpp"
#include "imapd.hpp"
#include "base/log.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "login/sasl_plain.hpp"
#include "base/netio.hpp"
#include "base/secret.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace imapd {

namespace {

constexpr int max_errors = 20;
constexpr std::size_t max_line = 65536;
constexpr std::size_t max_literal = 1024;
constexpr std::size_t max_command = 2 * 65536;

class Session {
 public:
  Session(Config& cfg, int fd, NetIO& io) : cfg_(cfg), fd_(fd), io_(io) {
    // Dovecot's imap_max_line_length (64 KiB): an RFC 2971 ID of 30
    // pairs of 1 KiB values fits; literals stay small before login.
    lim_.max_line = max_line;
    lim_.max_literal = max_literal;
    lim_.max_command = max_command;
    if (cfg_.literal_minus) lim_.max_nonsync = imap::literal_minus_max;
  }

  [[noreturn]] void run() {
    if (cfg_.tls && cfg_.tls->implicit()) {
      // Port 993: nothing is said before the handshake is done.
      if (!cfg_.tls->wait_implicit(cfg_.timeout)) std::_Exit(status::ok);
      log_tls();
    }
    io_.put("* OK [CAPABILITY " + caps() + "] postern imapd ready\r\n");
    secret::String raw;
    for (;;) {
      auto r = imap::read_command(io_, lim_, raw.get());
      switch (r) {
        case imap::ReadStatus::ok: break;
        case imap::ReadStatus::timeout:
          io_.put("* BYE Autologout; idle for too long\r\n");
          end();
        case imap::ReadStatus::eof:
        case imap::ReadStatus::error: end();
        case imap::ReadStatus::too_long:
          error(imap::tag_of(raw.get()).value_or("*"), "BAD Command line too long");
          continue;
        case imap::ReadStatus::literal_big:
          error(imap::tag_of(raw.get()).value_or("*"), "BAD Literal too large");
          continue;
        case imap::ReadStatus::literal_minus_big:
          log::line("client {}: non-synchronizing literal over 4096 bytes (LITERAL-)", client());
          error(imap::tag_of(raw.get()).value_or("*"), "BAD [TOOBIG] Non-synchronizing literal over 4096 bytes");
          continue;
        case imap::ReadStatus::literal_plus_big:
          io_.put("* BYE Literal too large\r\n");
          end();
      }
      handle(raw.get());
      secret::wipe(raw.get());
    }
  }

 private:
  [[noreturn]] void end() {
    io_.flush();
    std::_Exit(status::ok);
  }

  void error(const std::string& tag, const std::string& text) {
    io_.put(tag + " " + text + "\r\n");
    if (++errors_ >= max_errors) {
      io_.put("* BYE Too many errors\r\n");
      end();
    }
  }

  // The commands of the not-authenticated state. Those of the later
  // states (null handler) are answered "BAD Log in first".
  struct Rule {
    const char* name;
    void (Session::*run)(const std::string& tag, imap::Parser& p);
    bool no_args;
  };

  static const Rule* find_rule(std::string_view verb) {
    static const Rule rules[] = {
        {"CAPABILITY", &Session::cmd_capability, true},
        {"NOOP", &Session::cmd_noop, true},
        {"LOGOUT", &Session::cmd_logout, true},
        {"ID", &Session::cmd_id, false},
        {"STARTTLS", &Session::cmd_starttls, true},
        {"LOGIN", &Session::cmd_login, false},
        {"AUTHENTICATE", &Session::cmd_authenticate, false},
        {"ENABLE", nullptr, false}, {"SELECT", nullptr, false}, {"EXAMINE", nullptr, false},
        {"LIST", nullptr, false}, {"LSUB", nullptr, false}, {"STATUS", nullptr, false}, {"APPEND", nullptr, false},
        {"CREATE", nullptr, false}, {"DELETE", nullptr, false}, {"RENAME", nullptr, false},
        {"SUBSCRIBE", nullptr, false}, {"UNSUBSCRIBE", nullptr, false}, {"FETCH", nullptr, false},
        {"STORE", nullptr, false}, {"SEARCH", nullptr, false}, {"UID", nullptr, false},
        {"IDLE", nullptr, false}, {"NAMESPACE", nullptr, false}, {"CHECK", nullptr, false},
        {"CLOSE", nullptr, false}, {"UNSELECT", nullptr, false}, {"EXPUNGE", nullptr, false},
        {"COPY", nullptr, false}, {"MOVE", nullptr, false},
    };
    for (auto& r : rules)
      if (verb == r.name) return &r;
    return nullptr;
  }

  void handle(const std::string& raw) {
    imap::Parser p(raw);
    auto tag = p.atom();
    if (!tag || tag->find('+') != std::string::npos || tag->size() > 64 || !p.sp())
      return error("*", "BAD Missing or invalid tag");
    auto verb = p.atom();
    if (!verb) return error(*tag, "BAD Missing command");
    const Rule* rule = find_rule(imap::upper(*verb));
    if (!rule) return error(*tag, "BAD Unknown command");
    if (!rule->run) return error(*tag, "BAD Log in first");
    if (rule->no_args && !p.eol()) return error(*tag, "BAD Unexpected arguments");
    (this->*rule->run)(*tag, p);
  }

  bool tls_active() const { return cfg_.tls && cfg_.tls->active(); }
  bool can_starttls() const { return cfg_.tls && cfg_.tls->can_start(); }
  bool plaintext_allowed() const { return cfg_.plaintext_ok || tls_active(); }

  // RFC 3501 7.2.1 and RFC 2595 3.2: without TLS from another host,
  // LOGINDISABLED and no AUTH=PLAIN, so a client never sends the password.
  std::string caps() const {
    std::string c = cfg_.literal_minus ? "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ID ENABLE IDLE"
                                   : "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE";
    if (can_starttls()) c += " STARTTLS";
    c += plaintext_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
    return c;
  }

  static std::string client() {
    const char* ip = std::getenv("TCPREMOTEIP");
    return ip ? log::printable(ip, 64) : std::string("unknown");
  }

  void log_tls() { log::line("client {}: {}", client(), postern::tls::describe(cfg_.tls->facts())); }

  void refuse_plaintext(const std::string& t, const char* verb) {
    log::line("client {}: {} refused: no TLS and not a loopback client (control/plaintextlogin)", client(), verb);
    error(t, can_starttls() ? "NO [PRIVACYREQUIRED] Plaintext authentication is disabled; use STARTTLS first"
                            : "NO [PRIVACYREQUIRED] Plaintext authentication is disabled on this connection");
  }

  void cmd_capability(const std::string& t, imap::Parser&) {
    io_.put("* CAPABILITY " + caps() + "\r\n" + t + " OK Capability completed\r\n");
  }

  void cmd_noop(const std::string& t, imap::Parser&) { io_.put(t + " OK NOOP completed\r\n"); }

  void cmd_logout(const std::string& t, imap::Parser&) {
    io_.put("* BYE Logging out\r\n" + t + " OK Logout completed\r\n");
    end();
  }

  // RFC 2971: "ID NIL" or "ID (key value ...)"; the client's name and
  // version go to the log, so an admin sees which clients connect.
  void cmd_id(const std::string& t, imap::Parser& p) {
    if (!p.sp()) return error(t, "BAD Usage: ID NIL or ID (key value ...)");
    std::string why, seen;
    auto fields = imap::parse_id(p, why);
    if (!fields) return error(t, "BAD " + why);
    for (auto& f : *fields) {
      std::string k = imap::upper(f.key);
      if (f.value && (k == "NAME" || k == "VERSION"))
        seen += (seen.empty() ? "" : " ") + k + "=" + log::printable(*f.value, 64);
    }
    if (!seen.empty()) log::line("client {}: ID {}", client(), seen);
    io_.put("* ID (\"name\" \"postern\")\r\n" + t + " OK ID completed\r\n");
  }

  void cmd_starttls(const std::string& t, imap::Parser&) {
    if (tls_active()) return error(t, "BAD TLS is already on");
    if (!can_starttls()) return error(t, "BAD STARTTLS is not available");
    io_.put(t + " OK Begin TLS negotiation now\r\n");
    if (!io_.flush()) end();
    // Everything the client sent before the handshake was in clear and
    // may be an attacker's (a pipelined LOGIN): start() has NetIO drop it.
    if (!cfg_.tls->start(0, [this] { io_.discard_input(); }, cfg_.timeout)) {
      log::line("client {}: TLS negotiation failed ({}); closing", client(), cfg_.tls->error());
      std::_Exit(status::ok);
    }
    log_tls();
  }

  void cmd_login(const std::string& t, imap::Parser& p) {
    if (!plaintext_allowed()) return refuse_plaintext(t, "LOGIN");
    secret::String user, pass;
    std::optional<std::string> u, pw;
    if (!p.sp() || !(u = p.astring()) || !p.sp() || !(pw = p.astring()) || !p.eol())
      return error(t, "BAD Usage: LOGIN user password");
    user.get() = std::move(*u);
    pass.get() = std::move(*pw);
    secret::wipe(*pw);
    if (!login::valid_user(user.get()) || pass.get().empty() || pass.get().size() > 512)
      return error(t, "NO [AUTHENTICATIONFAILED] Authentication failed");
    login(t, user.get(), pass.get());
  }

  void cmd_authenticate(const std::string& t, imap::Parser& p) {
    auto mech = p.sp() ? p.atom() : std::nullopt;
    if (!mech) return error(t, "BAD Usage: AUTHENTICATE PLAIN");
    if (imap::upper(*mech) != "PLAIN") return error(t, "NO Unsupported authentication mechanism");
    if (!plaintext_allowed()) return refuse_plaintext(t, "AUTHENTICATE");
    secret::String response;
    if (p.sp()) {  // SASL-IR
      auto ir = p.atom("=");
      if (!ir || !p.eol()) return error(t, "BAD Bad initial response");
      response.get() = *ir;
      secret::wipe(*ir);
    } else {
      if (!p.eol()) return error(t, "BAD Unexpected arguments");
      io_.put("+ \r\n");
      auto r = io_.line(response.get(), 2048);
      if (r == NetIO::Read::partial) {
        // The rest of the line is part of the response, never a command.
        while (r == NetIO::Read::partial) r = io_.line(response.get(), 2048);
        secret::wipe(response.get());
        if (r != NetIO::Read::line) end();
        return error(t, "BAD Response too long");
      }
      if (r != NetIO::Read::line) end();
      std::string_view sv = response.get();
      while (!sv.empty() && (sv.back() == '\n' || sv.back() == '\r')) sv.remove_suffix(1);
      response.get().resize(sv.size());
    }
    login::PlainLogin plain;
    switch (login::judge_plain(response.get(), plain)) {
      case login::PlainVerdict::cancelled: return error(t, "BAD Authentication cancelled");
      case login::PlainVerdict::malformed: return error(t, "BAD Malformed AUTHENTICATE PLAIN response");
      case login::PlainVerdict::other_user:
        return error(t, "NO [AUTHORIZATIONFAILED] No authorization as another user");
      case login::PlainVerdict::refused: return error(t, "NO [AUTHENTICATIONFAILED] Authentication failed");
      case login::PlainVerdict::login: break;
    }
    login(t, plain.user, plain.password);
  }

  void login(const std::string& tag, const std::string& user, const std::string& password) {
    secret::String req(tag + "\n" + login::encode_request(user, password, ""));
    // LineTransport read nothing past the login's line: what the client
    // pipelined after it is still in the socket for the mailbox stage.
    io_.flush();
    int reply = login::ask(fd_, req.get());
    if (reply == login::send_failed) {
      io_.put(tag + " NO [UNAVAILABLE] Temporary problem; try again later\r\n");
      end();
    }
    if (reply == login::no_answer) end();
    switch (reply) {
      case login::reply_done:
        std::_Exit(status::ok);  // the mailbox stage served the client
      case login::reply_refused:
        return error(tag, "NO [AUTHENTICATIONFAILED] Authentication failed");
      case login::reply_too_many:
        io_.put(tag + " NO [AUTHENTICATIONFAILED] Authentication failed\r\n* BYE Too many failures\r\n");
        end();
      default:
        io_.put(tag + " NO [UNAVAILABLE] Temporary problem; try again later\r\n");
    }
  }

  Config& cfg_;
  int fd_;
  NetIO& io_;
  imap::Limits lim_;
  int errors_ = 0;
};

}  // namespace

void preauth(Config cfg, int fd) {
  LineTransport t(0, 1);
  NetIO io(t, cfg.timeout);
  Session s(cfg, fd, io);
  s.run();
}

}  // namespace imapd
