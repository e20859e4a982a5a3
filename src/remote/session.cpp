// session: see session.hpp.
//
// The conversation: greeting, EHLO (HELO when EHLO is refused), MAIL with
// SIZE when offered (and a message larger than the server's SIZE is
// refused before it is sent), one RCPT per recipient, DATA; with PIPELINING
// the MAIL, RCPT and DATA commands go out in one write and the replies are
// read in order. The message goes out with CRLF line ends and leading dots
// doubled. A host that cannot be reached, or that answers the greeting or
// MAIL with a temporary failure, makes us try the next destination.
//
// STARTTLS (RFC 3207) comes between EHLO and MAIL whenever the server
// offers it and the policy is not none; after it, EHLO again, and only the
// new reply's extensions count. Whatever the policy forbids to send in
// clear is stopped before MAIL: no envelope or message byte leaves without
// TLS then. Under the default policy (may), a handshake that fails costs
// one more connection to the same address, in clear (as KumoMTA's
// opportunistic_tls_reconnect_on_failed_handshake does): the mail still
// goes, and its result text says why not over TLS. Every result text ends with what protected it, "(TLS TLSv1.3
// TLS_AES_256_GCM_SHA384, certificate verified)" or "(no TLS)", so logs,
// mailq and bounces say it.
#include "session.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>

#include "base/io.hpp"
#include "base/netio.hpp"
#include "base/strings.hpp"
#include "base/log.hpp"
#include "dane.hpp"
#include "host_policy.hpp"
#include "mail/tcpto.hpp"
#include "tls_client.hpp"

namespace postern::remote {

namespace {

// A connected socket, or -1 (timed_out set when the host did not answer).
int connect_to(const Destination& d, const Settings& s, bool& timed_out) {
  timed_out = false;
  int fd = ::socket(d.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (!s.outgoing_ip.empty()) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = d.sa.ss_family;
    addrinfo* res = nullptr;
    if (getaddrinfo(s.outgoing_ip.c_str(), nullptr, &hints, &res) == 0) {
      int bound = ::bind(fd, res->ai_addr, res->ai_addrlen);
      freeaddrinfo(res);
      if (bound != 0) {
        ::close(fd);
        return -1;
      }
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&d.sa), d.len) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int r = ::poll(&p, 1, s.timeout_connect * 1000);
  int err = 0;
  socklen_t len = sizeof err;
  if (r <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    timed_out = r == 0 || err == ETIMEDOUT;
    ::close(fd);
    errno = r == 0 ? ETIMEDOUT : err;
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// The size of the message on the wire: every LF becomes CRLF.
long wire_size() {
  ::lseek(0, 0, SEEK_SET);
  long size = 0;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += n;
    for (ssize_t i = 0; i < n; ++i) size += buf[i] == '\n';
  }
  ::lseek(0, 0, SEEK_SET);
  return size;
}

// True when the message's header holds a byte above 127 (RFC 6532 UTF-8
// header fields): such a message asks for SMTPUTF8 where it is offered.
// Reads at most the first 256 KB, message_rules' bound on a header.
bool header_non_ascii() {
  ::lseek(0, 0, SEEK_SET);
  char buf[65536];
  std::size_t total = 0;
  char prev = '\n';
  bool found = false, end = false;
  while (!found && !end && total < 256 * 1024) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && !found && !end; ++i) {
      if (buf[i] == '\n' && prev == '\n') end = true;
      found = static_cast<unsigned char>(buf[i]) > 127;
      prev = buf[i];
    }
    total += static_cast<std::size_t>(n);
  }
  ::lseek(0, 0, SEEK_SET);
  return found;
}

bool send_message(NetIO& io) {
  ::lseek(0, 0, SEEK_SET);
  char buf[65536];
  bool line_start = true;
  std::string out;
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out.clear();
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      if (line_start && c == '.') out += '.';
      if (c == '\n') out += '\r';
      out += c;
      line_start = c == '\n';
    }
    io.put(out);
    if (!io.flush()) return false;
  }
  io.put(line_start ? ".\r\n" : "\r\n.\r\n");
  return io.flush();
}

std::vector<Outcome> all(std::size_t n, char result, const std::string& text) {
  return std::vector<Outcome>(n, Outcome{result, text});
}

// What a reply means for a recipient: only the codes that say so deliver
// (`good`); any other success code is a protocol error, tried again later.
char by_code(int code, std::initializer_list<int> good = {250, 251}) {
  for (int g : good)
    if (code == g) return 'K';
  return code >= 500 && code < 600 ? 'D' : 'Z';
}

// The transport of one connection: plain until STARTTLS succeeds, TLS
// after, so the conversation code is the same before and after.
class Link : public Transport {
 public:
  explicit Link(int fd) : plain_(fd, fd) {}
  ssize_t read(char* buf, std::size_t n, int timeout) override {
    return tls ? tls->read(buf, n, timeout) : plain_.read(buf, n, timeout);
  }
  bool write(std::string_view data, int timeout) override {
    return tls ? tls->write(data, timeout) : plain_.write(data, timeout);
  }
  std::unique_ptr<TlsClient> tls;

 private:
  FdTransport plain_;
};

// What one conversation leaves besides its outcomes.
struct Attempt {
  bool try_next = false;    // another host should be tried
  std::string retry_plain;  // may: why TLS failed; connect again in clear
  std::string tls_note;     // added to every outcome's text ("" for none)
  // TLS-RPT's word for the session's TLS (RFC 8460 4.3), "" when no TLS
  // was tried; and why, when it failed.
  std::string tls_result;
  std::string tls_reason;
};

// RFC 6531: an address with a byte above 127 is UTF-8 and needs SMTPUTF8.
bool non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c > 127) return true;
  return false;
}

// The names the policy wants the certificate to carry.
std::vector<std::string> wanted_names(const Destination& d, const Settings& s) {
  // RFC 7672 3.2.3: a DANE-TA(2) chain must name the MX host or the domain.
  if (!s.tls.tlsa.empty()) return {destination_name(d), s.domain};
  if (!s.tls.match.empty()) return s.tls.match;
  if (s.tls.level == TlsLevel::secure) return {s.domain, "." + s.domain};
  return {destination_name(d)};
}

// One conversation. plain_because: TLS is not to be tried (a failed
// handshake on the previous connection), and why.
std::vector<Outcome> converse(int fd, const Destination& d, const Settings& s, const std::string& sender,
                              const std::vector<std::string>& rcpts, Attempt& a,
                              const std::string* plain_because) {
  Link link(fd);
  NetIO io(link, s.timeout_remote);
  std::string who = "Remote host " + peer_label(d);
  auto said = [&](const Reply& r) { return who + " said: " + r.text; };
  const bool required = s.tls.level >= TlsLevel::encrypt;
  // What the policy says when it stops the mail; no note follows it.
  auto refuse = [&](const std::string& what, const char* code, const char* result) {
    a.try_next = true;
    a.tls_note.clear();
    a.tls_result = result;
    a.tls_reason = what;
    return all(rcpts.size(), 'Z',
               "TLS is required for " + s.domain + " (" + level_name(s.tls.level) + ", " + s.tls.source + "), but " +
                   who + " " + what + "; nothing was sent. (#" + code + ")");
  };
  a = Attempt{};
  a.tls_note = plain_because ? "no TLS: " + *plain_because : "no TLS";

  Reply greeting = read_reply(io);
  if (greeting.code != 220) {
    a.try_next = true;
    return all(rcpts.size(), 'Z', greeting.code ? said(greeting) : who + ": " + greeting.text + " (#4.4.2)");
  }
  io.put("EHLO " + s.helo_host + "\r\n");
  Reply ehlo = read_reply(io);
  Extensions ext;
  if (ehlo.code == 250) {
    ext = parse_ehlo(ehlo);
  } else if (ehlo.code >= 500) {
    if (required) {
      io.put("QUIT\r\n");
      io.flush();
      return refuse("refused EHLO (" + ehlo.text + "), so it offers no STARTTLS", "4.7.4", "starttls-not-supported");
    }
    io.put("HELO " + s.helo_host + "\r\n");
    Reply helo = read_reply(io);
    if (helo.code != 250) {
      a.try_next = helo.code < 500;
      return all(rcpts.size(), helo.code >= 500 ? 'D' : 'Z', said(helo));
    }
  } else {
    a.try_next = true;
    return all(rcpts.size(), 'Z', ehlo.code ? said(ehlo) : who + ": " + ehlo.text + " (#4.4.2)");
  }

  if (ehlo.code == 250 && s.tls.level != TlsLevel::none && !plain_because) {
    if (!ext.starttls && required) {
      io.put("QUIT\r\n");
      io.flush();
      return refuse("does not offer STARTTLS", "4.7.4", "starttls-not-supported");
    }
    Reply go;
    if (ext.starttls) {
      io.put("STARTTLS\r\n");
      go = read_reply(io);
    }
    if (!ext.starttls) {
      a.tls_result = "starttls-not-supported";
      a.tls_reason = "no STARTTLS offered";
    }
    if (ext.starttls && go.code != 220 && go.code != 0 && !required) {
      // A refusal leaves the session in clear and usable: may goes on.
      log::line("{} refused STARTTLS; sending in clear: {}", who, log::printable(go.text, 300));
      a.tls_note = "no TLS: STARTTLS refused";
      a.tls_result = "starttls-not-supported";
      a.tls_reason = "STARTTLS refused: " + go.text;
    } else if (ext.starttls) {
      std::string failure;
      if (go.code != 220) {
        failure = go.code ? "refused STARTTLS: " + go.text : "broke off after STARTTLS: " + go.text;
        if (go.code) {
          io.put("QUIT\r\n");
          io.flush();
        }
      } else if (io.buffered() > 0) {
        // Bytes sent before the handshake cannot be told from an
        // attacker's; a server that pipelines past its 220 is broken.
        failure = "sent more after its reply to STARTTLS";
      } else {
        std::string why;
        link.tls = TlsClient::connect(fd, destination_name(d), wanted_names(d, s), s.tls.tlsa, s.timeout_remote, why);
        if (!link.tls) failure = "failed the TLS handshake: " + why;
      }
      if (!failure.empty()) {
        const char* result = go.code != 220 ? "starttls-not-supported" : "validation-failure";
        if (required) return refuse(failure, "4.7.5", result);
        a.tls_result = result;
        a.tls_reason = failure;
        log::line("{} {}; trying again in clear", who, log::printable(failure, 300));
        a.retry_plain = failure;
        a.tls_note.clear();
        return all(rcpts.size(), 'Z', who + " " + failure + " (#4.7.5)");
      }
      const TlsFacts& facts = link.tls->facts();
      if (s.tls.level >= TlsLevel::verify && !facts.verified) {
        io.put("QUIT\r\n");
        io.flush();
        link.tls->shutdown();
        return refuse("sent a certificate that does not verify (" + facts.verify_error + ")", "4.7.5",
                      report_result(facts));
      }
      a.tls_note = describe(facts);
      a.tls_result = report_result(facts);
      a.tls_reason = facts.verified ? "" : facts.verify_error;
      // RFC 3207 4.2: forget what was learnt in clear, ask again.
      io.put("EHLO " + s.helo_host + "\r\n");
      ehlo = read_reply(io);
      if (ehlo.code != 250) {
        a.try_next = true;
        return all(rcpts.size(), 'Z', ehlo.code ? said(ehlo) : who + ": " + ehlo.text + " (#4.4.2)");
      }
      ext = parse_ehlo(ehlo);
    }
  }
  const bool pipelining = ext.pipelining, eight_bit = ext.eight_bit;
  const long max_size = ext.max_size;

  long size = wire_size();
  if (max_size > 0 && size > max_size) {
    io.put("QUIT\r\n");
    io.flush();
    return all(rcpts.size(), 'D',
               who + " accepts messages of at most " + std::to_string(max_size) + " bytes; this one has " +
                   std::to_string(size) + ". (#5.3.4)");
  }

  // RFC 6531: a non-ASCII address goes out only with SMTPUTF8, and only to
  // a server that offers it; to any other it is never sent raw (3.2): the
  // recipient fails for good, as Postfix's smtputf8_autodetect_classes
  // decides from the envelope. A non-ASCII sender fails them all. A UTF-8
  // header alone asks for SMTPUTF8 where offered, and goes as 8-bit
  // text where not (as Postfix sends it).
  std::vector<bool> skip(rcpts.size(), false);
  const bool utf8_sender = non_ascii(sender);
  bool utf8 = utf8_sender;
  for (std::size_t i = 0; i < rcpts.size(); ++i) utf8 |= non_ascii(rcpts[i]);
  std::vector<Outcome> out(rcpts.size());
  if (utf8 && !ext.smtputf8) {
    auto no_utf8 = [&](const std::string& addr) {
      return who + " does not offer SMTPUTF8 (RFC 6531), which the non-ASCII address <" + addr +
             "> needs; it was not sent. (#5.6.7)";
    };
    if (utf8_sender) {
      io.put("QUIT\r\n");
      io.flush();
      return all(rcpts.size(), 'D', no_utf8(sender));
    }
    for (std::size_t i = 0; i < rcpts.size(); ++i)
      if (non_ascii(rcpts[i])) out[i] = {'D', no_utf8(rcpts[i])}, skip[i] = true;
    if (std::find(skip.begin(), skip.end(), false) == skip.end()) {
      io.put("QUIT\r\n");
      io.flush();
      return out;
    }
  }

  std::string mail = "MAIL FROM:<" + sender + ">";
  if (max_size > 0) mail += " SIZE=" + std::to_string(size);
  if (eight_bit) mail += " BODY=8BITMIME";
  if (ext.smtputf8 && (utf8 || header_non_ascii())) mail += " SMTPUTF8";
  io.put(mail + "\r\n");
  if (!pipelining) io.flush();
  Reply mail_reply;
  // A refusal of MAIL is every sent recipient's result; the skipped keep theirs.
  auto mail_refused = [&] {
    for (std::size_t i = 0; i < rcpts.size(); ++i)
      if (!skip[i]) out[i] = {by_code(mail_reply.code, {}), said(mail_reply)};
    return out;
  };
  if (!pipelining) {
    mail_reply = read_reply(io);
    if (mail_reply.code != 250) {
      a.try_next = mail_reply.code > 0 && mail_reply.code < 500;
      return mail_refused();
    }
  }
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    if (skip[i]) continue;
    io.put("RCPT TO:<" + rcpts[i] + ">\r\n");
    if (pipelining) continue;
    Reply r = read_reply(io);
    out[i] = {r.code == 250 || r.code == 251 ? 'K' : by_code(r.code), said(r)};
    accepted += out[i].result == 'K';
    if (r.code == 0) return all(rcpts.size(), 'Z', who + ": " + r.text + " (#4.4.2)");
  }
  if (pipelining) {
    io.put("DATA\r\n");
    mail_reply = read_reply(io);
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      if (skip[i]) continue;
      Reply r = read_reply(io);
      out[i] = {r.code == 250 || r.code == 251 ? 'K' : by_code(r.code), said(r)};
      accepted += out[i].result == 'K';
    }
    if (mail_reply.code != 250) {
      a.try_next = mail_reply.code > 0 && mail_reply.code < 500;
      return mail_refused();
    }
  }
  if (accepted == 0) {
    if (pipelining) read_reply(io);  // DATA's refusal
    io.put("QUIT\r\n");
    io.flush();
    return out;
  }
  if (!pipelining) io.put("DATA\r\n");
  Reply data = read_reply(io);
  if (data.code != 354) {
    for (auto& o : out)
      if (o.result == 'K') o = {by_code(data.code == 0 ? 421 : data.code, {}), said(data)};
    return out;
  }
  if (!send_message(io)) {
    for (auto& o : out)
      if (o.result == 'K') o = {'Z', who + ": the connection was lost while sending the message. (#4.4.2)"};
    return out;
  }
  Reply final_reply = read_reply(io);
  for (auto& o : out) {
    if (o.result != 'K') continue;
    if (final_reply.code == 0) {
      o = {'Z', who + ": the connection was lost after the final dot: the message may have been accepted, and a "
                      "retry may deliver it twice. (#4.4.2)"};
    } else {
      o = {by_code(final_reply.code, {250}), said(final_reply)};
    }
  }
  io.put("QUIT\r\n");
  io.flush();
  return out;
}

}  // namespace

std::vector<Outcome> deliver(const std::vector<Destination>& destinations, const Settings& settings,
                             const std::string& sender, const std::vector<std::string>& recipients) {
  std::vector<Outcome> last = all(recipients.size(), 'Z', "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)");
  std::time_t now = std::time(nullptr);
  bool all_timed_out = true;
  for (auto& d : destinations) all_timed_out &= tcpto::recently_timed_out(d.address, now);
  for (auto& d : destinations) {
    if (!all_timed_out && tcpto::recently_timed_out(d.address, now)) continue;
    Settings s = settings;
    std::string why_not;
    if (!policy_for_host(d, s, why_not)) {
      Settings tlsa = settings;
      tlsa.tls.dane = true;
      record_tls(s, *reported_policy(d, tlsa), "dnssec-invalid", why_not);
      last = all(recipients.size(), 'Z', why_not);
      continue;
    }
    auto reported = reported_policy(d, s);
    if (!sts_for_host(d, s, why_not)) {
      if (reported) record_tls(s, *reported, "validation-failure", why_not);
      last = all(recipients.size(), 'Z', why_not);
      continue;
    }
    bool timed_out = false;
    int fd = connect_to(d, s, timed_out);
    if (fd < 0) {
      if (timed_out) tcpto::record_timeout(d.address, std::time(nullptr));
      last = all(recipients.size(), 'Z',
                 "Sorry, I wasn't able to establish an SMTP connection to " + peer_label(d) +
                     (timed_out ? ": it did not answer" : ": " + std::string(std::strerror(errno))) + ". (#4.4.1)");
      continue;
    }
    tcpto::forget(d.address);
    Attempt a;
    last = converse(fd, d, s, sender, recipients, a, nullptr);
    ::close(fd);
    if (reported && !a.tls_result.empty()) {
      // Under a testing policy an unlisted host is a failure to report,
      // though the mail went.
      if (!s.tls.dane && !sts_mx_matches(*s.sts, destination_name(d)))
        record_tls(s, *reported, "validation-failure", destination_name(d) + " is not a mail host the policy lists");
      else
        record_tls(s, *reported, a.tls_result, a.tls_reason);
    }
    if (!a.retry_plain.empty()) {
      // may: the same address once more, in clear.
      std::string why = a.retry_plain;
      fd = connect_to(d, s, timed_out);
      if (fd >= 0) {
        last = converse(fd, d, s, sender, recipients, a, &why);
        ::close(fd);
      } else {
        a.try_next = true;
      }
    }
    if (!a.tls_note.empty())
      for (auto& o : last) o.text += " (" + a.tls_note + ")";
    if (!a.try_next) return last;
  }
  return last;
}

}  // namespace postern::remote
