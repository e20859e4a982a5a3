// deadlines: smtpd's two session deadlines (control/deadlinesmtpdmail and
// deadlinesmtpd, postern-control(5)), set on the transport main.cpp gives
// the session, so that the session code needs no change for them.
#pragma once
#include <string>

#include "base/deadline.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

// Adds the deadlines for a network client (none for sendmail -bs); false
// with why set when a control file is unreadable or not a number.
bool add_deadlines(DeadlineTransport& transport, const Policy& policy, const Client& client, std::string& why);

}  // namespace postern::smtpd
