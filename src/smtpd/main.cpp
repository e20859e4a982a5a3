// smtpd: receives mail over SMTP and puts it into the queue.
//
//   smtpd        port 25: tcpserver -u posternd ... [tlsd -u posternd] smtpd
//   smtpd -s     submission (587, 465): started as root, behind tlsd
//   smtpd -l     sendmail -bs: a local caller on stdin/stdout
//
// Runs as: posternd (group nofiles) under tcpserver -u/-g or inetd, once
// for each connection; or as the calling user for sendmail -bs (-l). Never
// as root in a multi-user install: a network client is refused then, and
// a local root caller gets the daemon user's ids (client.cpp, leave_root).
// With SMTP AUTH (-s, or control/smtpauth on 25 when started as root) it
// splits first, as pop3d does (login/login_parent): a root parent that
// only runs checkpassword with /bin/true for each AUTH, and the SMTP
// stage as posternd, which alone reads the network.
// Trusts: its control files and the TCPREMOTEIP/TCPREMOTEHOST/RELAYCLIENT
// that tcpserver or tcp-env set, and the TLS facts tlsd gives; nothing
// the client sends. Every command line, message and count is bounded
// (smtpd.hpp, mail/message_rules.hpp).
//
// It speaks SMTP on descriptors 0 and 1. It reads its control files (me,
// smtpgreeting, rcpthosts, morercpthosts.cdb, badmailfrom, databytes,
// timeoutsmtpd, maxrcpt, locals, virtualdomains, recipients.cdb, smtpauth,
// senderlogins), greets, and serves the client: each message goes to
// bin/queue with a Received: line added, and is answered 250 with its id
// only once queue has made it durable. Exit codes (mail/status.hpp): 0
// after a session, 100 for a bad command line, 111 when it cannot serve
// (configuration, root). See smtpd(8).
#include <unistd.h>

#include <csignal>
#include <memory>
#include <cstdlib>
#include <string_view>

#include "base/deadline.hpp"
#include "base/log.hpp"
#include "base/netio.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "deadlines.hpp"
#include "login/login_parent.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/status.hpp"
#include "smtpd.hpp"
#include "tls_link.hpp"

using namespace postern;

namespace {

constexpr std::string_view temp_reply = "421 4.3.0 temporary configuration problem; try again later\r\n";

[[noreturn]] void temp_fail(Transport& transport, const std::string& why) {
  NetIO io(transport, 60);
  io.put(temp_reply);
  io.flush();
  log::die(status::temporary, why);
}

struct Mode {
  bool local = false;       // -l
  bool submission = false;  // -s
  bool auth = false;        // AUTH offered (after TLS): a login parent is there
};

// The SMTP stage: everything that reads the network. login_fd is the
// socket to the login parent, or -1 when AUTH is not offered.
int serve(const Mode& mode, int login_fd, std::unique_ptr<smtpd::Tls> tls) {
  smtpd::Client client = smtpd::identify_client(mode.local);
  FdTransport fd_transport(0, 1);
  DeadlineTransport transport(fd_transport);
  smtpd::Policy policy;
  smtpd::SenderLogins senders;
  std::string why;
  if (!smtpd::leave_root(client, why) || !policy.load(why, client.local)) temp_fail(transport, why);
  if (mode.auth && !senders.load(why)) temp_fail(transport, why);
  int first_mail = 0;
  if (!smtpd::add_deadlines(transport, policy, client, first_mail, why)) temp_fail(transport, why);
  NetIO io(transport, static_cast<int>(policy.timeout));
  // Implicit TLS (465): nothing is said before the handshake is done; a
  // failed one was tlsd's to log.
  if (tls && !tls->active() && tls->implicit() && !tls->wait_implicit(static_cast<int>(policy.timeout)))
    return status::ok;
  smtpd::Session session(io, policy, client);
  session.tls = tls.get();
  session.submission = mode.submission;
  if (mode.auth) {
    session.senders = &senders;
    session.check_login = [login_fd](std::string_view request) { return login::ask(login_fd, request); };
  }
  // From its first accepted MAIL on, the client is at work: only the
  // whole-connection deadline is left.
  if (first_mail) session.on_mail_accepted = [&transport, first_mail] { transport.cancel(first_mail); };
  return session.run();
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("smtpd");
  Mode mode;
  // -l: local submission on stdin/stdout (sendmail -bs). Only then is a
  // client without an address trusted; smtpd is not setuid, so -l gives a
  // caller nothing that sendmail would not.
  if (argc == 2 && std::string_view(argv[1]) == "-l") mode.local = true;
  if (argc == 2 && std::string_view(argv[1]) == "-s") mode.submission = true;
  if (argc > 2 || (argc == 2 && !mode.local && !mode.submission)) log::die(status::permanent, "usage: smtpd [-l | -s]");
  std::signal(SIGPIPE, SIG_IGN);
  // A caller that ignores SIGCHLD (swaks --pipe does, and the setting
  // survives exec) would make waiting for queue fail.
  std::signal(SIGCHLD, SIG_DFL);
  FdTransport plain(0, 1);

  mode.auth = mode.submission;
  if (!mode.local && !mode.submission) {
    std::string why;
    auto a = control::line("smtpauth", "", why);
    if (!a) temp_fail(plain, why);
    mode.auth = lower(*a) == "yes";
  }
  bool root = ::geteuid() == 0;
  if (mode.auth && !conf::single_user && !root) {
    // checkpassword must start as root to read passwords and change user.
    if (mode.submission) temp_fail(plain, "smtpd -s must start as root (tlsd without -u): it runs checkpassword");
    log::line("control/smtpauth says yes but smtpd did not start as root: AUTH is not offered");
    mode.auth = false;
  }
  // Before the split, so that tlsd's control descriptor is close-on-exec
  // in the login parent too: checkpassword and what it runs as the user
  // must not inherit it.
  auto tls = mode.local ? nullptr : smtpd::tls_link();
  if (!mode.auth) return serve(mode, -1, std::move(tls));

  login::harden();
  login::Checker checker = login::password_checker();
  std::string why;
  auto me = control::line("me", host_name(), why);
  if (!me) temp_fail(plain, why);
  if (!login::load_session_rules(checker, "smtpd",
                                 "421 4.4.2 " + *me + " no login in time; closing the connection\r\n",
                                 "421 4.3.0 " + *me + " the login was stopped; closing the connection\r\n", why))
    temp_fail(plain, why);
  // On 25 a client need not log in at all: only smtpd's own deadlines.
  if (!mode.submission) checker.login_deadline = 0;
  login::split(checker, temp_reply, [&mode, &tls](int fd) { std::_Exit(serve(mode, fd, std::move(tls))); });
}
