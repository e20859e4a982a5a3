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
  auto whole = control::number("deadlinesmtpd", 3600);
  auto mail = control::number("deadlinesmtpdmail", 180);
  if (!whole || !mail) {
    why = "unable to read control/deadlinesmtpd or deadlinesmtpdmail, or it is not a number";
    return false;
  }
  transport.add(*whole, "421 4.4.2 " + policy.me + " connection time limit reached; closing the connection\r\n",
                fmt::format("closed the connection from {}: time limit ({} seconds, control/deadlinesmtpd)",
                            client.name(), *whole));
  first_mail = transport.add(
      *mail, "421 4.4.2 " + policy.me + " no mail transaction in time; closing the connection\r\n",
      fmt::format("closed the connection from {}: no MAIL accepted within {} seconds (control/deadlinesmtpdmail)",
                  client.name(), *mail));
  return true;
}

}  // namespace postern::smtpd
