// pop3d: the POP3 server (RFC 1939, 2449, 5034), run once for each
// connection by tcpserver or inetd with the client on descriptors 0 and 1.
//
//   pop3d [-c checkpassword] [-m maildir]
//
// Started as root (the simplest line: tcpserver 0 110 pop3d), it splits at
// once into three parts, so that no code reading the network runs as root:
//
//   pop3d (root) ── only forks checkpassword, reads one bounded request
//     ├── pre-auth stage (posternd): greeting, CAPA, USER/PASS, APOP,
//     │     AUTH PLAIN; sends "user\0password\0timestamp\0" up a socket
//     └── checkpassword (root, short) ─exec as the user─► pop3d-mailbox
//
// In single-user mode, or when started by someone else than root, every
// part runs as the invoking user.
//
// Behind tlsd (tlsd pop3d for STLS on 110, tlsd -i pop3d on 995) the
// pre-auth stage also holds tlsd's control descriptor (TLSCTLFD): it alone
// asks for TLS; the descriptor is close-on-exec, so checkpassword and the
// mailbox stage never get it.
//
// Trusts: its control files (me, timeoutpop3d, plaintextlogin), its
// options and tlsd's environment (TLSMODE, TLSREADY), given by
// the administrator; nothing the client sends, which only the pre-auth
// stage reads (commands checked against pop3::verbs), and checkpassword
// decides every login. Exit code 111 (status::temporary) when it cannot
// serve. See pop3d(8).
#include <arpa/inet.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"
#include "login/client_address.hpp"
#include "login/login_parent.hpp"
#include "pop3d.hpp"
#include "base/unique.hpp"

using namespace postern;

namespace {

constexpr std::string_view reply_temp = "-ERR [SYS/TEMP] temporary problem; try again later\r\n";

[[noreturn]] void temp_fail(const std::string& why) {
  write_all(1, reply_temp);
  log::die(status::temporary, why);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("pop3d");
  login::harden();

  pop3d::Config cfg;
  login::Checker checker;
  checker.checkpassword = conf::path("bin/checkpassword");
  checker.mailbox = conf::path("bin/pop3d-mailbox");
  checker.maildir = "Maildir";
  checker.apop = true;
  login::parse_options(argc, argv, "pop3d", checker);

  auto me = control::line("me", host_name());
  if (!me) temp_fail("cannot read control/me");
  cfg.me = *me;
  auto timeout = control::number("timeoutpop3d", 600);
  if (!timeout || *timeout == 0 || *timeout > 86400) temp_fail("bad control/timeoutpop3d");
  cfg.timeout = static_cast<int>(*timeout);

  auto plaintext = login::plaintext_login_allowed();
  if (!plaintext) temp_fail("bad control/plaintextlogin");
  cfg.plaintext_ok = *plaintext;
  // Before the split, so the descriptor is close-on-exec in the parent too.
  cfg.tls = tls::Channel::from_environment();

  // The mailbox stage keeps its own session deadline.
  std::string why;
  if (!login::load_session_rules(checker, "pop3d", "-ERR [SYS/TEMP] no login in time; closing the connection\r\n",
                                 "-ERR [SYS/TEMP] the session was stopped by the server\r\n", why))
    temp_fail(why);

  login::split(checker, reply_temp, [&cfg](int fd) { pop3d::preauth(std::move(cfg), fd); });
}
