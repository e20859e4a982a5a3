// deadlines: see deadlines.hpp. Per-read timeouts (timeoutsmtpd) let a
// client that sends a byte a minute stay for ever: a network client also
// gets a whole-connection deadline and a shorter one for its first
// accepted MAIL. It trusts the control files and the policy.
#include "deadlines.hpp"

#include <fmt/format.h>

#include "mail/control.hpp"

namespace postern::smtpd {

bool add_deadlines(DeadlineTransport& transport, const Policy& policy, const Client& client, int& first_mail,
                   std::string& why) {
  first_mail = 0;
  if (client.local) return true;
  auto whole = control::number("deadlinesmtpd", 3600, why);
  if (!whole) return false;
  auto mail = control::number("deadlinesmtpdmail", 180, why);
  if (!mail) return false;
  std::string whole_reply = "421 4.4.2 " + policy.me + " connection time limit reached; closing the connection";
  transport.add(*whole, whole_reply + "\r\n",
                reject_line(client, {}, nullptr, nullptr, whole_reply,
                            fmt::format("connection time limit ({} seconds, control/deadlinesmtpd)", *whole)));
  std::string mail_reply = "421 4.4.2 " + policy.me + " no mail transaction in time; closing the connection";
  first_mail = transport.add(
      *mail, mail_reply + "\r\n",
      reject_line(client, {}, nullptr, nullptr, mail_reply,
                  fmt::format("no MAIL accepted within {} seconds (control/deadlinesmtpdmail)", *mail)));
  return true;
}

}  // namespace postern::smtpd
