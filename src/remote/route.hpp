// route: where a remote domain's mail goes: control/smtproutes, else its
// MX records (the C library's resolver, so resolv.conf applies), else its
// own A/AAAA records; address literals go straight to the address.
#pragma once
#include <sys/socket.h>

#include <string>
#include <vector>

namespace postern::remote {

// One address to try, in order.
struct Destination {
  std::string host;        // the name, for messages and Remote-MTA
  std::string address;     // numeric
  sockaddr_storage sa{};
  socklen_t len = 0;
};

struct Route {
  enum class Result { ok, temporary, permanent } result = Result::ok;
  std::string why;  // for a failure, in the words of a bounce
  std::vector<Destination> destinations;
};

Route find_route(const std::string& domain, int default_port);

}  // namespace postern::remote
