// reply: what remote reads from an SMTP server: replies (RFC 5321 4.2) and
// the extensions an EHLO reply announces. Both are untrusted bytes from
// the network: every line is bounded and checked, and what is returned is
// only what parsed.
#pragma once
#include <string>
#include <vector>

#include "base/netio.hpp"

namespace postern::remote {

// One SMTP reply, read from the server: at most 100 lines of at most 4096
// bytes.
struct Reply {
  int code = 0;  // 0: the connection failed or timed out, or the reply was malformed
  std::string text;  // the whole reply, lines joined by " / "
  std::vector<std::string> lines;  // each line after the code
};
Reply read_reply(NetIO& io);

// The extensions of a 250 reply to EHLO that remote uses; the first line
// (the server's name) is no extension.
struct Extensions {
  bool pipelining = false;
  bool eight_bit = false;
  bool starttls = false;
  bool smtputf8 = false;  // RFC 6531
  long max_size = 0;  // 0: no SIZE limit announced
};
Extensions parse_ehlo(const Reply& ehlo);

}  // namespace postern::remote
