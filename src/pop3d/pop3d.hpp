// pop3d's two processes before login: the privileged parent that runs the
// password check (parent.cpp) and the pre-auth stage that speaks POP3 to
// the client until a login succeeds (preauth.cpp). See pop3d(8).
#pragma once
#include <string>

namespace pop3d {

struct Config {
  std::string me;              // the host name in the greeting
  int timeout = 600;           // seconds of idle time before autologout
  std::string checkpassword;   // the password checking program
  std::string mailbox;         // the mailbox stage
  std::string maildir;         // its argument: the Maildir, relative to home
};

// Replies from the parent to the pre-auth stage, one byte each.
constexpr char reply_done = 'K';      // the mailbox stage ran: end quietly
constexpr char reply_refused = 'N';   // wrong user or password
constexpr char reply_too_many = 'Q';  // refused, and no more tries
constexpr char reply_temp = 'T';      // temporary failure

// The pre-auth stage, already unprivileged. Talks to the client on 0/1 and
// to the parent on fd. Never returns.
[[noreturn]] void preauth(const Config& cfg, int fd);

// The parent: serves the pre-auth stage's requests until it exits, then
// exits with its status.
[[noreturn]] void parent(const Config& cfg, int fd, int child);

}  // namespace pop3d
