// imapd: the IMAP server (RFC 3501 and the extensions in imapd(8)), run
// once for each connection by tcpserver or inetd with the client on
// descriptors 0 and 1:
//
//   imapd [-c checkpassword] [-m maildir]
//
// Started as root (tcpserver 0 143 imapd) it splits as pop3d does, so no
// code reading the network runs as root:
//
//   imapd (root) -- only forks checkpassword, reads one bounded request
//     |-- pre-auth stage (posternd): greeting, CAPABILITY, LOGIN,
//     |     AUTHENTICATE PLAIN; sends "tag\n" "user\0password\0\0" up a socket
//     `-- checkpassword (root, short) -exec as the user-> imapd-mailbox
//
// In single-user mode, or when started by someone else than root, every
// part runs as the invoking user.
//
// Behind tlsd (tlsd imapd for STARTTLS on 143, tlsd -i imapd on 993) the
// pre-auth stage also holds tlsd's control descriptor (TLSCTLFD): it alone
// asks for TLS; the descriptor is close-on-exec, so checkpassword and the
// mailbox stage never get it.
//
// Trusts: its control files (timeoutimapd, plaintextlogin), its options
// and tlsd's environment (TLSMODE, TLSREADY), given by the administrator;
// nothing the client sends. Exit code 111 when it cannot serve. See
// imapd(8).
#include <arpa/inet.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/status.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "login/client_address.hpp"
#include "login/login_parent.hpp"
#include "imapd.hpp"

using namespace postern;

namespace {

constexpr std::string_view reply_temp = "* BYE [UNAVAILABLE] temporary problem; try again later\r\n";

[[noreturn]] void temp_fail(const std::string& why) {
  write_all(1, reply_temp);
  log::die(status::temporary, why);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("imapd");
  login::harden();

  imapd::Config cfg;
  login::Checker checker;
  checker.checkpassword = conf::path("bin/checkpassword");
  checker.mailbox = conf::path("bin/imapd-mailbox");
  checker.maildir = "Maildir";
  checker.prefix = imapd::login_tag_prefix;
  login::parse_options(argc, argv, "imapd", checker);

  auto timeout = control::number("timeoutimapd", 1800);
  if (!timeout || *timeout == 0 || *timeout > 86400) temp_fail("bad control/timeoutimapd");
  cfg.timeout = static_cast<int>(*timeout);

  auto literal = control::line("literalimapd", "+");
  if (!literal || (*literal != "+" && *literal != "-")) temp_fail("bad control/literalimapd");
  cfg.literal_minus = *literal == "-";

  auto plaintext = login::plaintext_login_allowed();
  if (!plaintext) temp_fail("bad control/plaintextlogin");
  cfg.plaintext_ok = *plaintext;
  // Before the split, so the descriptor is close-on-exec in the parent too.
  cfg.tls = tls::Channel::from_environment();

  // The mailbox stage keeps its own session deadline.
  std::string why;
  if (!login::load_session_rules(checker, "imapd", "* BYE [UNAVAILABLE] no login in time; closing the connection\r\n",
                                 "* BYE [UNAVAILABLE] the session was stopped by the server\r\n", why))
    temp_fail(why);

  login::split(checker, reply_temp, [&cfg](int fd) { imapd::preauth(std::move(cfg), fd); });
}
