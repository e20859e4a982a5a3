// session: the SMTP protocol state machine (RFC 5321, with PIPELINING,
// SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 and CHUNKING). Replies are
// queued in NetIO and flushed before smtpd waits for the client, so a
// pipelined group of commands is answered in order, in one write.
#include <ctime>

#include "mail/address.hpp"
#include "base/date.hpp"
#include "base/log.hpp"
#include "smtpd.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"

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

}  // namespace

void Session::reply(const std::string& text) {
  io_.put(text);
  io_.put("\r\n");
}

bool Session::error(const std::string& text) {
  if (++errors_ < max_errors) {
    reply(text);
    return true;
  }
  reply("421 4.7.0 " + policy_.me + " too many errors; closing the connection");
  log::line("closed the connection from {}: too many errors", client_.name());
  return false;
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
        reply("500 5.5.2 line too long; closing the connection");
        io_.flush();
        log::line("closed the connection from {}: a command line longer than {} bytes", client_.name(),
                  max_command_line);
        return 0;
      case NetIO::Read::timeout:
        reply("421 4.4.2 " + policy_.me + " timeout; closing the connection");
        io_.flush();
        log::line("closed the connection from {}: timeout", client_.name());
        return 0;
      case NetIO::Read::eof:
      case NetIO::Read::error: return 0;
    }
    if (commands >= max_commands) {
      reply("421 4.7.0 too many commands; closing the connection");
      io_.flush();
      return 0;
    }
    if (!command(line) || io_.failed()) break;
  }
  io_.flush();
  return 0;
}

bool Session::command(const std::string& raw) {
  std::string_view line = chomp(raw);
  if (line.find('\0') != std::string_view::npos) {
    return error("500 5.5.2 a NUL in a command");
  }
  auto space = line.find(' ');
  std::string verb = upper(line.substr(0, space));
  std::string arg(space == std::string_view::npos ? std::string_view() : line.substr(space + 1));

  if (verb == "QUIT") {
    reply("221 2.0.0 " + policy_.me + " closing the connection");
    return false;
  }
  if (verb == "HELO" || verb == "EHLO") {
    helo(arg, verb == "EHLO");
    return true;
  }
  if (verb == "MAIL") {
    mail(arg);
    return errors_ < max_errors;
  }
  if (verb == "RCPT") {
    rcpt(arg);
    return errors_ < max_errors;
  }
  if (verb == "DATA") return data();
  if (verb == "BDAT") return bdat(arg);
  if (verb == "RSET") {
    reset();
    reply("250 2.0.0 ok");
    return true;
  }
  if (verb == "NOOP") {
    reply("250 2.0.0 ok");
    return true;
  }
  if (verb == "VRFY") {
    reply("252 2.5.2 cannot verify the user, but send some mail and I will try");
    return true;
  }
  if (verb == "HELP") {
    reply("214 2.0.0 postern smtpd: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT (RFC 5321)");
    return true;
  }
  log::line("unrecognised command from {}: {}", client_.name(), log::printable(line, 100));
  return error("502 5.5.1 unrecognised command");
}

void Session::helo(const std::string& arg, bool extended) {
  std::string name(trim(arg));
  if (name.empty()) {
    reply("501 5.5.4 " + std::string(extended ? "EHLO" : "HELO") + " needs the name of your host");
    return;
  }
  reset();
  helo_ = header_safe(name.substr(0, name.find(' ')));
  extended_ = extended;
  if (!extended) {
    reply("250 " + policy_.me);
    return;
  }
  reply("250-" + policy_.me);
  reply("250-PIPELINING");
  reply("250-SIZE " + std::to_string(policy_.databytes));
  reply("250-8BITMIME");
  reply("250-ENHANCEDSTATUSCODES");
  reply("250-SMTPUTF8");
  reply("250 CHUNKING");
}

void Session::mail(const std::string& arg) {
  if (helo_.empty()) return reply("503 5.5.1 send HELO or EHLO first");
  if (have_mail_) return reply("503 5.5.1 a transaction is already started; send RSET first");
  std::string addr;
  std::vector<std::string> params;
  if (!starts_with_ci(arg, "FROM:") || !parse_path(std::string_view(arg).substr(5), addr, params)) {
    error("501 5.5.4 syntax: MAIL FROM:<address>");
    return;
  }
  bool utf8 = false;
  for (auto& p : params) {
    std::string key = upper(p.substr(0, p.find('=')));
    std::string value = p.find('=') == std::string::npos ? "" : p.substr(p.find('=') + 1);
    if (!extended_) return reply("555 5.5.4 parameters need EHLO");
    if (key == "SIZE") {
      auto n = to_number(value);
      if (!n) return reply("501 5.5.4 SIZE needs a number");
      if (policy_.databytes && *n > policy_.databytes)
        return reply("552 5.3.4 the message is bigger than the " + std::to_string(policy_.databytes) +
                     " bytes this server accepts");
    } else if (key == "BODY") {
      std::string v = upper(value);
      if (v != "7BIT" && v != "8BITMIME") return reply("555 5.5.4 BODY=" + log::printable(value, 40) + " is not supported");
    } else if (key == "SMTPUTF8" && value.empty()) {
      utf8 = true;
    } else if (key == "AUTH") {
      // RFC 4954: ignored without authentication.
    } else {
      return reply("555 5.5.4 unsupported parameter " + log::printable(key, 40));
    }
  }
  if (!valid_envelope_address(addr)) return reply("553 5.1.7 the sender address is not valid");
  if (non_ascii(addr) && !utf8) return reply("553 5.6.7 a non-ASCII address needs SMTPUTF8");
  if (policy_.bad_sender(addr)) {
    log::line("refused sender <{}> from {}: badmailfrom", log::printable(addr), client_.name());
    return reply("553 5.7.1 mail from this sender is not accepted here");
  }
  envelope_.sender = addr;
  have_mail_ = true;
  utf8_ = utf8;
  reply("250 2.1.0 ok");
}

void Session::rcpt(const std::string& arg) {
  if (!have_mail_) return reply("503 5.5.1 send MAIL first");
  std::string addr;
  std::vector<std::string> params;
  if (!starts_with_ci(arg, "TO:") || !parse_path(std::string_view(arg).substr(3), addr, params)) {
    error("501 5.5.4 syntax: RCPT TO:<address>");
    return;
  }
  if (!params.empty()) return reply("555 5.5.4 unsupported parameter " + log::printable(params[0], 40));
  if (addr.empty() || !valid_envelope_address(addr)) return reply("553 5.1.3 the recipient address is not valid");
  if (non_ascii(addr) && !utf8_) return reply("553 5.6.7 a non-ASCII address needs SMTPUTF8");
  if (split_address(addr).domain.empty()) {
    if (lower(addr) != "postmaster") return reply("553 5.1.3 a recipient address needs a domain");
    addr = "postmaster@" + policy_.me;
  }
  // "user@example.org." is the same domain: one spelling for every check
  // and for the queue, so the dot cannot slip past the recipient check.
  if (addr.back() == '.') addr.pop_back();
  if (split_address(addr).domain.empty() || addr.back() == '.') return reply("553 5.1.3 the recipient address is not valid");
  if (envelope_.recipients.size() >= policy_.max_rcpt) return reply("452 4.5.3 too many recipients");
  if (client_.relayclient) {
    addr += *client_.relayclient;  // qmail's rule: RELAYCLIENT's value is appended
  } else if (!policy_.relay_allowed(addr)) {
    log::line("refused relaying from {} to <{}>", client_.name(), log::printable(addr));
    error("553 5.7.1 relaying denied: this server does not accept mail for that domain");
    return;
  }
  switch (policy_.check_local(addr)) {
    case Policy::Rcpt::ok: break;
    case Policy::Rcpt::unknown:
      log::line("refused unknown recipient <{}> from {}", log::printable(addr), client_.name());
      // A list's message may name a few stale addresses; thousands of
      // unknown names on one connection are a harvest, and end it.
      if (++unknown_rcpts_ > max_unknown_rcpts) {
        errors_ = max_errors;
        reply("421 4.7.0 " + policy_.me + " too many unknown recipients; closing the connection");
        log::line("closed the connection from {}: too many unknown recipients", client_.name());
        return;
      }
      return reply("550 5.1.1 <" + log::printable(addr, 200) + ">: no such user here");
    case Policy::Rcpt::error:
      log::line("unable to read control/recipients.cdb");
      return reply("451 4.3.0 unable to check the recipient; try again later");
  }
  envelope_.recipients.push_back(addr);
  reply("250 2.1.5 ok");
}

std::unique_ptr<Incoming> Session::start_message() {
  std::string id = random_hex(8);
  std::string from = client_.local ? "(invoked by uid " + std::to_string(client_.uid) + ")"
                                   : "(" + (client_.info.empty() ? "" : header_safe(client_.info) + "@") +
                                         (client_.host.empty() ? "" : header_safe(client_.host) + " ") + "[" +
                                         header_safe(client_.ip) + "])";
  std::string protocol = !extended_ ? "SMTP" : utf8_ ? "UTF8SMTP" : "ESMTP";
  std::string received = "Received: from " + helo_ + " " + from + "\n\tby " + header_safe(policy_.me) +
                         " (postern smtpd) with " + protocol + " id " + id + ";\n\t" +
                         rfc5322_date(std::time(nullptr)) + "\n";
  smtp::Limits limits;
  limits.max_bytes = policy_.databytes;
  limits.max_hops = policy_.max_hops;
  return std::make_unique<Incoming>(limits, id, received);
}

std::string Session::finish_message(Incoming& in) {
  std::string answer = in.finish(envelope_, client_.name());
  reset();
  return answer;
}

bool Session::data() {
  if (chunks_) {
    return error("503 5.5.1 DATA cannot follow BDAT");
  }
  if (!have_mail_) {
    return error("503 5.5.1 send MAIL first");
  }
  if (envelope_.recipients.empty()) {
    return error("554 5.5.1 no valid recipients");
  }
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
  std::string refusal;
  if (!have_mail_) refusal = "503 5.5.1 send MAIL first";
  else if (envelope_.recipients.empty()) refusal = "554 5.5.1 no valid recipients";
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
