// bounce: the non-delivery report send owes a sender: an RFC 3464
// multipart/report that reads well as plain text, with the original message
// (or only its header, when it is larger than control/bouncemaxbytes).
#pragma once
#include <ctime>
#include <string>
#include <vector>

#include "controls.hpp"

namespace postern::send {

struct FailedRecipient {
  std::string address;
  std::string reason;
  char channel;  // 'L' or 'R': remote reasons are SMTP replies
};

// The whole report, ready for the queue. original_fd is the queued message.
std::string compose_bounce(const Controls& c, const std::string& to, std::time_t arrived,
                           const std::vector<FailedRecipient>& failed, int original_fd);

// The enhanced status code in a reason such as "... (#5.1.1)", else 5.0.0.
std::string status_code_of(const std::string& reason);

}  // namespace postern::send
