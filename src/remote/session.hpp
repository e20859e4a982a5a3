// session: one SMTP client conversation that delivers a message to some
// recipients, and the connection attempts that lead to it.
#pragma once
#include <string>
#include <vector>

#include "base/netio.hpp"
#include "route.hpp"

namespace postern::remote {

struct Settings {
  std::string helo_host;
  int timeout_connect = 60;
  int timeout_remote = 1200;
  std::string outgoing_ip;  // empty: the kernel chooses
};

struct Outcome {
  char result = 'Z';  // K delivered, Z deferred, D failed
  std::string text;
};

// One SMTP reply (RFC 5321 4.2), read from the server: untrusted bytes,
// at most 100 lines of at most 4096 bytes.
struct Reply {
  int code = 0;  // 0: the connection failed or timed out, or the reply was malformed
  std::string text;  // the whole reply, lines joined by " / "
  std::vector<std::string> lines;  // each line after the code
};
Reply read_reply(NetIO& io);

// Tries the destinations in order until one takes the message (or refuses
// it for good); one Outcome per recipient, in order. The message is fd 0.
std::vector<Outcome> deliver(const std::vector<Destination>& destinations, const Settings& settings,
                             const std::string& sender, const std::vector<std::string>& recipients);

}  // namespace postern::remote
