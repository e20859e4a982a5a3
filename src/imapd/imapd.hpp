// imapd's two processes before login: the privileged parent that runs the
// password check (parent.cpp, pop3d's design) and the pre-auth stage that
// speaks IMAP until LOGIN or AUTHENTICATE PLAIN succeeds (preauth.cpp).
// See imapd(8).
#pragma once
#include <string>

namespace imapd {

struct Config {
  int timeout = 1800;          // seconds of idle time before autologout
  std::string checkpassword;   // the password checking program
  std::string mailbox;         // the mailbox stage
  std::string maildir;         // its argument: the Maildir, relative to home
};

// Replies from the parent to the pre-auth stage, one byte each (as pop3d's).
constexpr char reply_done = 'K';      // the mailbox stage ran: end quietly
constexpr char reply_refused = 'N';   // wrong user or password
constexpr char reply_too_many = 'Q';  // refused, and no more tries
constexpr char reply_temp = 'T';      // temporary failure

// The request packet: "tag\n" then the checkpassword request
// "user\0password\0\0". The tag goes to the mailbox stage as IMAPLOGINTAG.
[[noreturn]] void preauth(const Config& cfg, int fd);
[[noreturn]] void parent(const Config& cfg, int fd, int child);

}  // namespace imapd
