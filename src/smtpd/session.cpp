// session: the SMTP protocol state machine (RFC 5321, with PIPELINING,
// SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 and CHUNKING). Every
// command is a row of one table with what it needs of the session (HELO
// first, a transaction, a recipient, no BDAT in progress); the dispatcher
// alone refuses what is out of place, so no command repeats those checks.
// Replies are queued in NetIO and flushed before smtpd waits for the
// client, so a pipelined group of commands is answered in order, in one
// write.
#include <ctime>

#include "mail/address.hpp"
#include "base/date.hpp"
#include "base/log.hpp"
#include "smtpd.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "mail/status.hpp"

namespace postern::smtpd {

namespace {

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return u;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && upper(s.substr(0, prefix.size())) == prefix;
}

bool non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c > 127) return true;
  return false;
}

// Text from the client made safe for a header field: printable ASCII,
// bounded.
std::string header_safe(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 255)) out += (c >= 33 && c <= 126 && c != '(' && c != ')') ? static_cast<char>(c) : '?';
  return out.empty() ? "unknown" : out;
}

// tlsd's description of the TLS session made safe for a comment: it
// comes from another process, and a parenthesis would end the comment.
std::string header_safe_comment(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) out += (c >= 32 && c <= 126 && c != '\\') ? static_cast<char>(c) : '?';
  int depth = 0;
  bool broken = false;
  for (char c : out) {
    depth += c == '(' ? 1 : c == ')' ? -1 : 0;
    broken = broken || depth < 0;
  }
  if (broken || depth != 0)
    for (auto& c : out)
      if (c == '(' || c == ')') c = ' ';
  return out;
}

// "<addr> PARAM PARAM" (or, as qmail allows, a bare addr). A source route
// "<@a,@b:user@d>" loses its route. False on a syntax error.
bool parse_path(std::string_view s, std::string& addr, std::vector<std::string>& params) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::size_t end;
  if (!s.empty() && s.front() == '<') {
    bool quoted = false;
    for (end = 1; end < s.size(); ++end) {
      char c = s[end];
      if (quoted && c == '\\' && end + 1 < s.size()) {
        ++end;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c == '>' && !quoted) break;
    }
    if (end >= s.size()) return false;
    addr = std::string(s.substr(1, end - 1));
    s.remove_prefix(end + 1);
  } else {
    end = s.find(' ');
    addr = std::string(s.substr(0, end));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  if (!addr.empty() && addr.front() == '@') {
    auto colon = addr.find(':');
    if (colon == std::string::npos) return false;
    addr.erase(0, colon + 1);
  }
  for (auto& p : split(s, ' '))
    if (!p.empty()) params.push_back(p);
  return true;
}

// What a command needs before it may run, in the order they are checked.
enum Need : unsigned {
  anytime = 0,
  needs_helo = 1,     // HELO or EHLO first (RFC 5321 4.1.4)
  outside_mail = 2,   // no transaction started yet
  needs_mail = 4,     // a transaction: MAIL accepted
  outside_bdat = 8,   // no BDAT chunk yet in this transaction (RFC 3030 2)
  needs_rcpt = 16,    // at least one recipient accepted
};

}  // namespace

struct Session::Verb {
  std::string_view name;
  unsigned needs;
  // The command's bytes follow it (BDAT): a refusal is given only once
  // they are read, or they would be taken for commands.
  bool payload;
  bool (Session::*run)(const std::string& arg);
};

// RFC 5321 4.1.4: RSET, NOOP, VRFY and HELP work at any time, before EHLO
// too. Every refusal made here is a 503 (554 for no recipient) and counts
// toward max_errors, as do unknown commands.
const Session::Verb Session::verbs[] = {
    {"HELO", anytime, false, &Session::helo},
    {"EHLO", anytime, false, &Session::ehlo},
    {"MAIL", needs_helo | outside_mail, false, &Session::mail},
    {"RCPT", needs_mail | outside_bdat, false, &Session::rcpt},
    {"DATA", needs_mail | outside_bdat | needs_rcpt, false, &Session::data},
    {"BDAT", needs_mail | needs_rcpt, true, &Session::bdat},
    {"RSET", anytime, false, &Session::rset},
    {"NOOP", anytime, false, &Session::noop},
    {"VRFY", anytime, false, &Session::vrfy},
    {"HELP", anytime, false, &Session::help},
    {"QUIT", anytime, false, &Session::quit},
    {"AUTH", needs_helo | outside_mail, false, &Session::auth},
    {"STARTTLS", anytime, false, &Session::starttls},
};

std::string Session::out_of_place(const Verb& v) const {
  if ((v.needs & needs_helo) && helo_.empty()) return "503 5.5.1 send HELO or EHLO first";
  if ((v.needs & outside_mail) && have_mail_) return "503 5.5.1 a transaction is already started; send RSET first";
  if ((v.needs & needs_mail) && !have_mail_) return "503 5.5.1 send MAIL first";
  if ((v.needs & outside_bdat) && chunks_) return "503 5.5.1 " + std::string(v.name) + " cannot follow BDAT";
  if ((v.needs & needs_rcpt) && envelope_.recipients.empty()) return "554 5.5.1 no valid recipients";
  return "";
}

bool Session::reply(const std::string& text) {
  io_.put(text);
  io_.put("\r\n");
  return true;
}

bool Session::error(const std::string& text) {
  if (++errors_ < max_errors) {
    reply(text);
    return true;
  }
  refuse("421 4.7.0 " + policy_.me + " too many errors; closing the connection", nullptr, "too many errors");
  return false;
}

bool Session::refuse(const std::string& text, const std::string* to, std::string_view why, bool counts_as_error) {
  log::line("{}", reject_line(client_, helo_, have_mail_ ? &envelope_.sender : nullptr, to, text, why));
  return counts_as_error ? error(text) : reply(text);
}

void Session::reset() {
  have_mail_ = false;
  utf8_ = false;
  envelope_ = Envelope{};
  chunks_.reset();
}

int Session::run() {
  reply("220 " + policy_.greeting + " ESMTP postern");
  std::string line;
  for (int commands = 0;; ++commands) {
    switch (io_.line(line, max_command_line + 2)) {
      case NetIO::Read::line: break;
      case NetIO::Read::partial:
        refuse("500 5.5.2 line too long; closing the connection", nullptr,
               "a command line longer than " + std::to_string(max_command_line) + " bytes");
        io_.flush();
        return status::ok;
      case NetIO::Read::timeout:
        refuse("421 4.4.2 " + policy_.me + " timeout; closing the connection", nullptr, "timeout");
        io_.flush();
        return status::ok;
      case NetIO::Read::eof:
      case NetIO::Read::error: return status::ok;
    }
    if (commands >= max_commands) {
      refuse("421 4.7.0 too many commands; closing the connection");
      io_.flush();
      return status::ok;
    }
    if (!command(line) || io_.failed()) break;
  }
  io_.flush();
  return status::ok;
}

bool Session::command(const std::string& raw) {
  std::string_view line = chomp(raw);
  if (line.find('\0') != std::string_view::npos) return error("500 5.5.2 a NUL in a command");
  auto space = line.find(' ');
  std::string verb = upper(line.substr(0, space));
  std::string arg(space == std::string_view::npos ? std::string_view() : line.substr(space + 1));
  for (const Verb& v : verbs) {
    if (v.name != verb) continue;
    std::string refusal = out_of_place(v);
    if (refusal.empty() || v.payload) {
      late_refusal_ = std::move(refusal);
      return (this->*v.run)(arg);
    }
    return error(refusal);
  }
  log::line("unrecognised command from {}: {}", client_.name(), log::printable(line, 100));
  return error("502 5.5.1 unrecognised command");
}

bool Session::quit(const std::string&) {
  reply("221 2.0.0 " + policy_.me + " closing the connection");
  return false;
}

bool Session::rset(const std::string&) {
  reset();
  return reply("250 2.0.0 ok");
}

bool Session::noop(const std::string&) { return reply("250 2.0.0 ok"); }

bool Session::vrfy(const std::string&) {
  return reply("252 2.5.2 cannot verify the user, but send some mail and I will try");
}

bool Session::help(const std::string&) {
  std::string names;
  for (const Verb& v : verbs) names += std::string(v.name) + " ";
  return reply("214 2.0.0 postern smtpd: " + names + "(RFC 5321)");
}

bool Session::helo(const std::string& arg) { return greet(arg, false); }
bool Session::ehlo(const std::string& arg) { return greet(arg, true); }

bool Session::greet(const std::string& arg, bool extended) {
  std::string name(trim(arg));
  if (name.empty()) return error("501 5.5.4 " + std::string(extended ? "EHLO" : "HELO") + " needs the name of your host");
  reset();
  helo_ = header_safe(name.substr(0, name.find(' ')));
  extended_ = extended;
  if (!extended) return reply("250 " + policy_.me);
  reply("250-" + policy_.me);
  reply("250-PIPELINING");
  reply("250-SIZE " + std::to_string(policy_.databytes));
  reply("250-8BITMIME");
  reply("250-ENHANCEDSTATUSCODES");
  reply("250-SMTPUTF8");
  if (tls && tls->can_start()) reply("250-STARTTLS");
  // RFC 4954 14: no mechanism that sends a password in clear is offered
  // before TLS, so AUTH is not offered at all until then.
  if (auth_offered()) reply("250-AUTH PLAIN LOGIN");
  return reply("250 CHUNKING");
}

bool Session::mail(const std::string& arg) {
  if (submission && login_.empty()) return error("530 5.7.0 authentication required");
  std::string addr;
  std::vector<std::string> params;
  if (!starts_with_ci(arg, "FROM:") || !parse_path(std::string_view(arg).substr(5), addr, params))
    return error("501 5.5.4 syntax: MAIL FROM:<address>");
  // The refused sender goes into the reject line as from=.
  auto refuse_sender = [&](const std::string& text, std::string_view why = {}) {
    envelope_.sender = addr;
    have_mail_ = true;
    refuse(text, nullptr, why);
    reset();
    return true;
  };
  bool utf8 = false;
  for (auto& p : params) {
    std::string key = upper(p.substr(0, p.find('=')));
    std::string value = p.find('=') == std::string::npos ? "" : p.substr(p.find('=') + 1);
    if (!extended_) return error("555 5.5.4 parameters need EHLO");
    if (key == "SIZE") {
      auto n = to_number(value);
      if (!n) return error("501 5.5.4 SIZE needs a number");
      if (policy_.databytes && *n > policy_.databytes)
        return refuse_sender("552 5.3.4 the message is bigger than the " + std::to_string(policy_.databytes) +
                     " bytes this server accepts");
    } else if (key == "BODY") {
      std::string v = upper(value);
      if (v != "7BIT" && v != "8BITMIME") return error("555 5.5.4 BODY=" + log::printable(value, 40) + " is not supported");
    } else if (key == "SMTPUTF8" && value.empty()) {
      utf8 = true;
    } else if (key == "AUTH") {
      // RFC 4954: ignored without authentication.
    } else {
      return error("555 5.5.4 unsupported parameter " + log::printable(key, 40));
    }
  }
  if (!valid_envelope_address(addr)) return refuse_sender("553 5.1.7 the sender address is not valid");
  if (non_ascii(addr) && !utf8) return refuse_sender("553 5.6.7 a non-ASCII address needs SMTPUTF8");
  if (policy_.bad_sender(addr))
    return refuse_sender("553 5.7.1 mail from this sender is not accepted here", "control/badmailfrom");
  // An authenticated client relays, so it may send only as itself, on
  // submission and on 25 alike. The null sender names nobody and stays
  // allowed (a client's own bounce).
  if (!login_.empty() && !addr.empty() && !(senders && senders->owns(login_, addr)))
    return refuse_sender("553 5.7.1 <" + log::printable(addr, 200) + "> is not yours to send as",
                         "not an address of login " + login_);
  envelope_.sender = addr;
  have_mail_ = true;
  utf8_ = utf8;
  if (on_mail_accepted) on_mail_accepted();
  return reply("250 2.1.0 ok");
}

bool Session::rcpt(const std::string& arg) {
  std::string addr;
  std::vector<std::string> params;
  if (!starts_with_ci(arg, "TO:") || !parse_path(std::string_view(arg).substr(3), addr, params))
    return error("501 5.5.4 syntax: RCPT TO:<address>");
  if (!params.empty()) return error("555 5.5.4 unsupported parameter " + log::printable(params[0], 40));
  if (addr.empty() || !valid_envelope_address(addr)) return refuse("553 5.1.3 the recipient address is not valid", &addr);
  if (non_ascii(addr) && !utf8_) return refuse("553 5.6.7 a non-ASCII address needs SMTPUTF8", &addr);
  if (split_address(addr).domain.empty()) {
    if (lower(addr) != "postmaster") return refuse("553 5.1.3 a recipient address needs a domain", &addr);
    addr = "postmaster@" + policy_.me;
  }
  // "user@example.org." is the same domain: one spelling for every check
  // and for the queue, so the dot cannot slip past the recipient check.
  if (addr.back() == '.') addr.pop_back();
  if (split_address(addr).domain.empty() || addr.back() == '.')
    return refuse("553 5.1.3 the recipient address is not valid", &addr);
  if (envelope_.recipients.size() >= policy_.max_rcpt)
    return refuse("452 4.5.3 too many recipients", &addr, "control/maxrcpt: " + std::to_string(policy_.max_rcpt));
  if (client_.relayclient) {
    addr += *client_.relayclient;  // qmail's rule: RELAYCLIENT's value is appended
  } else if (!login_.empty()) {
    // RFC 4954: an authenticated client may relay.
  } else if (!policy_.relay_allowed(addr)) {
    return refuse("553 5.7.1 relaying denied: this server does not accept mail for that domain", &addr, {}, true);
  }
  std::string why;
  switch (policy_.check_local(addr, why)) {
    case Policy::Rcpt::ok: break;
    case Policy::Rcpt::unknown:
      // A list's message may name a few stale addresses; thousands of
      // unknown names on one connection are a harvest, and end it.
      if (++unknown_rcpts_ > max_unknown_rcpts) {
        refuse("421 4.7.0 " + policy_.me + " too many unknown recipients; closing the connection", &addr);
        return false;
      }
      return refuse("550 5.1.1 <" + log::printable(addr, 200) + ">: no such user here", &addr, why);
    case Policy::Rcpt::error:
      return refuse("451 4.3.0 unable to check the recipient; try again later", &addr, why);
    case Policy::Rcpt::full:
      return refuse("452 4.2.2 <" + log::printable(addr, 200) + ">: mailbox full; try again later", &addr,
                    "over quota (quota/ mark)");
  }
  envelope_.recipients.push_back(addr);
  return reply("250 2.1.5 ok");
}

std::unique_ptr<Incoming> Session::start_message() {
  std::string id = random_hex(8);
  std::string from = client_.local ? "(invoked by uid " + std::to_string(client_.uid) + ")"
                                   : "(" + (client_.info.empty() ? "" : header_safe(client_.info) + "@") +
                                         (client_.host.empty() ? "" : header_safe(client_.host) + " ") + "[" +
                                         header_safe(client_.ip) + "])";
  bool secure = tls && tls->active();
  // RFC 3848 (and RFC 6531 for UTF8SMTP): S for TLS, A for AUTH.
  std::string protocol = !extended_ ? "SMTP" : utf8_ ? "UTF8SMTP" : "ESMTP";
  if (extended_) protocol += std::string(secure ? "S" : "") + (login_.empty() ? "" : "A");
  if (secure) from += "\n\t(using " + header_safe_comment(tls->describe()) + ")";
  std::string received = "Received: from " + helo_ + " " + from + "\n\tby " + header_safe(policy_.me) +
                         " (postern smtpd) with " + protocol + " id " + id + ";\n\t" +
                         rfc5322_date(std::time(nullptr)) + "\n";
  smtp::Limits limits;
  limits.max_bytes = policy_.databytes;
  limits.max_hops = policy_.max_hops;
  // Mail from a client trusted to relay starts here, and is signed
  // (dkimsign(8)); mail from other hosts is passed on as it came.
  bool ours = client_.local || client_.relayclient || !login_.empty();
  Peer peer{client_.ip, helo_};
  auto in = std::make_unique<Incoming>(limits, id, received, ours ? Origin::here : Origin::passed_on, peer);
  if (submission && senders) in->complete(*senders, login_, policy_.me);
  return in;
}

std::string Session::finish_message(Incoming& in) {
  std::string answer = in.finish(envelope_);
  if (answer.front() == '2') {
    std::string version;
    if (tls && tls->active()) version = tls->describe().substr(0, tls->describe().find(' '));
    log::line("{}", accepted_line(client_, helo_, envelope_, in, version, login_));
  } else {
    log::line("{}", reject_line(client_, helo_, &envelope_.sender, nullptr, answer, in.why()));
  }
  reset();
  return answer;
}

bool Session::data(const std::string&) {
  auto in = start_message();
  smtp::DataDecoder decoder(in->text());
  reply("354 go ahead; end with <CRLF>.<CRLF>");
  std::string piece;
  for (;;) {
    auto r = io_.line(piece, data_piece);
    if (r == NetIO::Read::line || r == NetIO::Read::partial) {
      if (decoder.piece(piece)) break;
      in->drain();
      continue;
    }
    if (r == NetIO::Read::timeout) {
      reply("421 4.4.2 " + policy_.me + " timeout; closing the connection");
      io_.flush();
    }
    log::line("the connection from {} ended inside DATA", client_.name());
    return false;  // in is dropped: nothing is queued
  }
  reply(finish_message(*in));
  return true;
}

bool Session::bdat(const std::string& arg) {
  auto words = split(trim(arg), ' ');
  auto size = words.empty() ? std::nullopt : to_number(words[0]);
  bool last = words.size() == 2 && upper(words[1]) == "LAST";
  if (!size || words.size() > 2 || (words.size() == 2 && !last)) {
    reply("501 5.5.4 syntax: BDAT size [LAST]; closing the connection");
    return false;  // the chunk's bytes cannot be told from commands
  }
  std::string refusal = std::move(late_refusal_);
  late_refusal_.clear();
  if (refusal.empty() && !chunks_) chunks_ = start_message();
  std::size_t left = *size;
  std::string piece;
  while (left > 0) {
    auto r = io_.some(piece, std::min(left, data_piece));
    if (r != NetIO::Read::line) {
      if (r == NetIO::Read::timeout) {
        reply("421 4.4.2 " + policy_.me + " timeout; closing the connection");
        io_.flush();
      }
      log::line("the connection from {} ended inside BDAT", client_.name());
      return false;
    }
    left -= piece.size();
    if (chunks_) chunks_->feed(piece);
  }
  if (!refusal.empty()) {
    if (last) reset();
    return error(refusal);
  }
  if (!last) {
    reply("250 2.0.0 " + std::to_string(*size) + " octets received");
    return true;
  }
  auto in = std::move(chunks_);
  reply(finish_message(*in));
  return true;
}

}  // namespace postern::smtpd
