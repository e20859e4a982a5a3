// pop3d before login: the pre-auth stage that speaks POP3 to the client
// until a login succeeds (preauth.cpp). The privileged parent that runs
// the password check is login::parent (login_parent.hpp). See pop3d(8).
#pragma once
#include <string>

namespace pop3d {

struct Config {
  std::string me;              // the host name in the greeting
  int timeout = 600;           // seconds of idle time before autologout
};

// The pre-auth stage, already unprivileged. Talks to the client on 0/1 and
// to the parent on fd. Never returns.
[[noreturn]] void preauth(const Config& cfg, int fd);

}  // namespace pop3d
