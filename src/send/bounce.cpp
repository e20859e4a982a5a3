// bounce: see bounce.hpp.
#include "bounce.hpp"

#include <unistd.h>

#include <regex>

#include "base/date.hpp"
#include "base/unique.hpp"

namespace postern::send {

std::string status_code_of(const std::string& reason) {
  // "(#5.1.1)" as local writes it, or the code after an SMTP reply code.
  static const std::regex code(R"((?:#|^|\d\d\d[ -])([245])\.(\d{1,3})\.(\d{1,3}))");
  std::smatch m;
  if (std::regex_search(reason, m, code) && m[1] == "5") return m[1].str() + "." + m[2].str() + "." + m[3].str();
  return "5.0.0";
}

namespace {

// At most max bytes of the original; full is false when it was cut.
std::string read_original(int fd, std::size_t max, bool& full) {
  std::string out;
  char buf[65536];
  full = true;
  ::lseek(fd, 0, SEEK_SET);
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) {
      full = false;
      break;
    }
  }
  return out;
}

// The header of a message: everything before the first empty line.
std::string header_only(const std::string& message) {
  auto end = message.find("\n\n");
  return end == std::string::npos ? message : message.substr(0, end + 1);
}

}  // namespace

std::string compose_bounce(const Controls& c, const std::string& to, std::time_t arrived,
                           const std::vector<FailedRecipient>& failed, int original_fd) {
  std::time_t now = std::time(nullptr);
  std::string boundary = "postern-" + random_hex(12);
  std::string from = c.bounce_from + "@" + c.bounce_host;
  std::string out;
  out += "From: " + from + "\n";
  out += "To: " + to + "\n";
  out += "Subject: failure notice\n";
  out += "Date: " + rfc5322_date(now) + "\n";
  out += "Message-ID: <" + std::to_string(now) + "." + random_hex(8) + "@" + c.bounce_host + ">\n";
  out += "Auto-Submitted: auto-replied\n";
  out += "MIME-Version: 1.0\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"" + boundary + "\"\n";
  out += "\nThis is a MIME-formatted message.  Its first part reads as plain text.\n\n";

  // utf-8: an address may be one (RFC 6531), and ASCII is UTF-8 too.
  out += "--" + boundary + "\nContent-Type: text/plain; charset=utf-8\n\n";
  out += "This is the mail system at " + c.domains.me + ".\n\n";
  out += "Your message could not be delivered to the addresses below, and\n";
  out += "no further attempts will be made. The reason follows each address.\n\n";
  for (auto& f : failed) out += "<" + f.address + ">:\n" + f.reason + "\n\n";

  out += "--" + boundary + "\nContent-Type: message/delivery-status\n\n";
  out += "Reporting-MTA: dns; " + c.domains.me + "\n";
  out += "Arrival-Date: " + rfc5322_date(arrived) + "\n";
  // remote words a reply as "Remote host NAME[ADDRESS] said: REPLY (TLS
  // ...)", or "Remote host [ADDRESS] said:" when it knows no name (a
  // literal or bracketed smtproutes relay): the host is the Remote-MTA,
  // the reply itself the SMTP Diagnostic-Code; the note on TLS that remote
  // adds is ours, not the peer's, so it stays in the text part only.
  static const std::regex remote_said(
      R"(^Remote host (?:([^\[\s]+)\[[^\]]*\]|\[([^\]\s]+)\]) said: (.*?)(?: \((?:no TLS|TLS )[^()]*\))?$)");
  for (auto& f : failed) {
    out += "\nFinal-Recipient: rfc822; " + f.address + "\n";
    out += "Action: failed\n";
    out += "Status: " + status_code_of(f.reason) + "\n";
    std::smatch m;
    if (f.channel == 'R' && std::regex_match(f.reason, m, remote_said)) {
      out += "Remote-MTA: dns; " + (m[1].matched ? m[1].str() : m[2].str()) + "\n";
      out += "Diagnostic-Code: smtp; " + m[3].str() + "\n";
    } else {
      out += std::string("Diagnostic-Code: ") + (f.channel == 'R' ? "smtp; " : "X-postern; ") + f.reason + "\n";
    }
  }
  out += "\n";

  bool full = false;
  std::string original = read_original(original_fd, c.bounce_max_bytes, full);
  if (full) {
    out += "--" + boundary + "\nContent-Type: message/rfc822\n\n" + original;
  } else {
    out += "--" + boundary + "\nContent-Type: text/rfc822-headers\n\n" + header_only(original);
  }
  if (!out.empty() && out.back() != '\n') out += "\n";
  out += "\n--" + boundary + "--\n";
  return out;
}

}  // namespace postern::send
