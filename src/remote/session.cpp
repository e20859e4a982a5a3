// session: see session.hpp.
//
// The conversation: greeting, EHLO (HELO when EHLO is refused), MAIL with
// SIZE when offered (and a message larger than the server's SIZE is
// refused before it is sent), one RCPT per recipient, DATA; with PIPELINING
// the MAIL, RCPT and DATA commands go out in one write and the replies are
// read in order. The message goes out with CRLF line ends and leading dots
// doubled. A host that cannot be reached, or that answers the greeting or
// MAIL with a temporary failure, makes us try the next destination.
#include "session.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/io.hpp"
#include "base/netio.hpp"
#include "base/strings.hpp"
#include "mail/tcpto.hpp"

namespace postern::remote {

Reply read_reply(NetIO& io) {
  Reply r;
  for (int lines = 0; lines < 100; ++lines) {
    std::string line;
    auto got = io.line(line, 4096);
    if (got == NetIO::Read::timeout) return Reply{0, "the remote host stopped answering (timeout)", {}};
    if (got != NetIO::Read::line && got != NetIO::Read::partial)
      return Reply{0, r.text.empty() ? "the connection was lost" : r.text, {}};
    std::string_view l = chomp(line);
    // Three digits, then a space, a '-' or nothing (RFC 5321 4.2): "9.9"
    // or "2500" is no reply code.
    auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(l[i])) != 0; };
    if (l.size() < 3 || !digit(0) || !digit(1) || !digit(2) || l[0] < '1' || l[0] > '5' ||
        (l.size() > 3 && l[3] != ' ' && l[3] != '-'))
      return Reply{0, "a malformed reply: " + std::string(l), {}};
    if (!r.text.empty()) r.text += " / ";
    r.text += std::string(l);
    r.lines.emplace_back(l.size() > 4 ? l.substr(4) : "");
    if (l.size() == 3 || l[3] != '-') {
      r.code = std::atoi(std::string(l.substr(0, 3)).c_str());
      return r;
    }
  }
  return Reply{0, "a reply of more than 100 lines", {}};
}

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

// One conversation; try_next is set when another host should be tried.
std::vector<Outcome> converse(int fd, const Destination& d, const Settings& s, const std::string& sender,
                              const std::vector<std::string>& rcpts, bool& try_next) {
  FdTransport transport(fd, fd);
  NetIO io(transport, s.timeout_remote);
  std::string who = "Remote host " + d.host + "[" + d.address + "]";
  auto said = [&](const Reply& r) { return who + " said: " + r.text; };
  try_next = false;

  Reply greeting = read_reply(io);
  if (greeting.code != 220) {
    try_next = true;
    return all(rcpts.size(), 'Z', greeting.code ? said(greeting) : who + ": " + greeting.text + " (#4.4.2)");
  }
  io.put("EHLO " + s.helo_host + "\r\n");
  Reply ehlo = read_reply(io);
  bool pipelining = false, eight_bit = false;
  long max_size = 0;
  if (ehlo.code == 250) {
    for (auto& l : ehlo.lines) {
      std::string kw = lower(trim(l));
      if (kw == "pipelining") pipelining = true;
      if (kw == "8bitmime") eight_bit = true;
      if (kw.rfind("size", 0) == 0 && kw.size() > 5) max_size = static_cast<long>(to_number(kw.substr(5)).value_or(0));
    }
  } else if (ehlo.code >= 500) {
    io.put("HELO " + s.helo_host + "\r\n");
    Reply helo = read_reply(io);
    if (helo.code != 250) {
      try_next = helo.code < 500;
      return all(rcpts.size(), helo.code >= 500 ? 'D' : 'Z', said(helo));
    }
  } else {
    try_next = true;
    return all(rcpts.size(), 'Z', ehlo.code ? said(ehlo) : who + ": " + ehlo.text + " (#4.4.2)");
  }

  long size = wire_size();
  if (max_size > 0 && size > max_size) {
    io.put("QUIT\r\n");
    io.flush();
    return all(rcpts.size(), 'D',
               who + " accepts messages of at most " + std::to_string(max_size) + " bytes; this one has " +
                   std::to_string(size) + ". (#5.3.4)");
  }

  std::string mail = "MAIL FROM:<" + sender + ">";
  if (max_size > 0) mail += " SIZE=" + std::to_string(size);
  if (eight_bit) mail += " BODY=8BITMIME";
  io.put(mail + "\r\n");
  if (!pipelining) io.flush();
  std::vector<Outcome> out(rcpts.size());
  Reply mail_reply;
  if (!pipelining) {
    mail_reply = read_reply(io);
    if (mail_reply.code != 250) {
      try_next = mail_reply.code > 0 && mail_reply.code < 500;
      return all(rcpts.size(), by_code(mail_reply.code, {}), said(mail_reply));
    }
  }
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
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
      Reply r = read_reply(io);
      out[i] = {r.code == 250 || r.code == 251 ? 'K' : by_code(r.code), said(r)};
      accepted += out[i].result == 'K';
    }
    if (mail_reply.code != 250) {
      try_next = mail_reply.code > 0 && mail_reply.code < 500;
      return all(rcpts.size(), by_code(mail_reply.code, {}), said(mail_reply));
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

std::vector<Outcome> deliver(const std::vector<Destination>& destinations, const Settings& s,
                             const std::string& sender, const std::vector<std::string>& recipients) {
  std::vector<Outcome> last = all(recipients.size(), 'Z', "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)");
  std::time_t now = std::time(nullptr);
  bool all_timed_out = true;
  for (auto& d : destinations) all_timed_out &= tcpto::recently_timed_out(d.address, now);
  for (auto& d : destinations) {
    if (!all_timed_out && tcpto::recently_timed_out(d.address, now)) continue;
    bool timed_out = false;
    int fd = connect_to(d, s, timed_out);
    if (fd < 0) {
      if (timed_out) tcpto::record_timeout(d.address, std::time(nullptr));
      last = all(recipients.size(), 'Z',
                 "Sorry, I wasn't able to establish an SMTP connection to " + d.host + "[" + d.address + "]" +
                     (timed_out ? ": it did not answer" : ": " + std::string(std::strerror(errno))) + ". (#4.4.1)");
      continue;
    }
    tcpto::forget(d.address);
    bool try_next = false;
    last = converse(fd, d, s, sender, recipients, try_next);
    ::close(fd);
    if (!try_next) return last;
  }
  return last;
}

}  // namespace postern::remote
