// deadlines: smtpd's two session deadlines (control/deadlinesmtpdmail and
// deadlinesmtpd, postern-control(5)), set on the transport main.cpp gives
// the session; the session cancels the first when it accepts a MAIL.
#pragma once
#include <string>

#include "base/deadline.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

// Adds the deadlines for a network client (none for sendmail -bs), with
// first_mail set to the id of the one that a first accepted MAIL cancels
// (0: none); false with why set when a control file is unreadable or not
// a number.
bool add_deadlines(DeadlineTransport& transport, const Policy& policy, const Client& client, int& first_mail,
                   std::string& why);

}  // namespace postern::smtpd
