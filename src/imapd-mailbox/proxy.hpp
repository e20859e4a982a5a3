// proxy: the owner's process of a shared folder, as the user's own
// session holds it (proxy.cpp, copy_across.cpp): imapd-share(8) on a
// socket, and the reading of its responses, each whole (lines and
// literals), bounded in size and time.
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

#include "session.hpp"

namespace imapd {

inline constexpr int reply_wait = 600;                   // seconds for the owner's process to answer
inline constexpr std::size_t max_reply = 256u << 20;     // bytes of one response, literals included

struct Session::Proxy {
  std::string owner;
  pid_t pid = -1;
  int fd = -1;
  std::string buf;    // read, not yet taken
  bool selected = false;

  ~Proxy();  // closes the socket (the owner's process then exits) and reaps it
  bool fill(int seconds);
  // One line, without its CRLF.
  bool line(std::string& out, int seconds);
  bool exact(std::size_t n, std::string& out, int seconds);
  // One whole response: its lines and literals, as they came, with CRLF.
  bool response(std::string& out, int seconds);
  bool send(std::string_view bytes);
};

}  // namespace imapd
