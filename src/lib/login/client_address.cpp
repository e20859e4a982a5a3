// client_address: see client_address.hpp.
#include "login/client_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>

#include "mail/control.hpp"

namespace postern::login {

bool loopback_client(const char* ip) {
  if (!ip) return false;
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, ip, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (::inet_pton(AF_INET6, ip, &a6) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

std::optional<bool> plaintext_login_allowed() {
  auto plaintext = control::number("plaintextlogin", 0);
  if (!plaintext) return std::nullopt;
  // A password typed on this host never crossed a network; from anywhere
  // else it waits for TLS unless the administrator says otherwise.
  return *plaintext != 0 || loopback_client(std::getenv("TCPREMOTEIP"));
}

}  // namespace postern::login
