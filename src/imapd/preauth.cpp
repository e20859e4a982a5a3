// imapd's pre-auth stage: runs as posternd (conf-users' daemon user) and
// speaks IMAP's not-authenticated state with the client until LOGIN or
// AUTHENTICATE PLAIN succeeds. It knows no passwords: it passes each
// attempt to the parent ("tag\n" + checkpassword request) and waits for
// one byte back; on success the mailbox stage, started by checkpassword
// as the user, has answered the tagged OK and served the session. Every
// input is bounded (imap::Limits, a small literal limit, max_errors bad
// commands, cfg.timeout seconds of silence).
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <sodium.h>

#include "imap/imap_parse.hpp"
#include "imapd.hpp"
#include "base/log.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "base/netio.hpp"
#include "base/secret.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace imapd {

namespace {

constexpr int max_errors = 20;
const char* const caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN";

class Session {
 public:
  Session(const Config& cfg, int fd, NetIO& io) : cfg_(cfg), fd_(fd), io_(io) {
    lim_.max_line = 8192;
    lim_.max_literal = 1024;
    lim_.max_command = 12288;
  }

  [[noreturn]] void run() {
    io_.put(std::string("* OK [CAPABILITY ") + caps + "] postern imapd ready\r\n");
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
        {"STARTTLS", &Session::cmd_starttls, false},
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

  void cmd_capability(const std::string& t, imap::Parser&) {
    io_.put(std::string("* CAPABILITY ") + caps + "\r\n" + t + " OK Capability completed\r\n");
  }

  void cmd_noop(const std::string& t, imap::Parser&) { io_.put(t + " OK NOOP completed\r\n"); }

  void cmd_logout(const std::string& t, imap::Parser&) {
    io_.put("* BYE Logging out\r\n" + t + " OK Logout completed\r\n");
    end();
  }

  void cmd_id(const std::string& t, imap::Parser&) {
    io_.put("* ID (\"name\" \"postern\")\r\n" + t + " OK ID completed\r\n");
  }

  void cmd_starttls(const std::string& t, imap::Parser&) { error(t, "BAD STARTTLS is not available"); }

  void cmd_login(const std::string& t, imap::Parser& p) {
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
    secret::String response;
    if (p.sp()) {  // SASL-IR
      auto ir = p.atom("=");
      if (!ir || !p.eol()) return error(t, "BAD Bad initial response");
      response.get() = *ir;
      secret::wipe(*ir);
      if (response.get() == "=") response.get().clear();
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
    if (response.get() == "*") return error(t, "BAD Authentication cancelled");
    auto plain = login::decode_plain(response.get());
    if (!plain) return error(t, "BAD Malformed AUTHENTICATE PLAIN response");
    if (!plain->authzid.empty() && plain->authzid != plain->authcid)
      return error(t, "NO [AUTHORIZATIONFAILED] No authorization as another user");
    if (!login::valid_user(plain->authcid) || plain->password.empty() || plain->password.size() > 512)
      return error(t, "NO [AUTHENTICATIONFAILED] Authentication failed");
    login(t, plain->authcid, plain->password);
  }

  void login(const std::string& tag, const std::string& user, const std::string& password) {
    secret::String req(tag + "\n" + login::encode_request(user, password, ""));
    if (io_.buffered() > 0) {
      // Commands pipelined after LOGIN would be lost to the mailbox stage.
      return error(tag, "BAD Do not pipeline commands after LOGIN");
    }
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

  const Config& cfg_;
  int fd_;
  NetIO& io_;
  imap::Limits lim_;
  int errors_ = 0;
};

}  // namespace

void preauth(const Config& cfg, int fd) {
  FdTransport t(0, 1);
  NetIO io(t, cfg.timeout);
  Session s(cfg, fd, io);
  s.run();
}

}  // namespace imapd
