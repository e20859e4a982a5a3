// smtpd: receives mail over SMTP and puts it into the queue.
//
// It runs once for each connection, under tcpserver or inetd (through
// tcp-env) as posternd, or for sendmail -bs as the calling user, and
// speaks SMTP on descriptors 0 and 1. It learns who the client is from
// TCPREMOTEIP and TCPREMOTEHOST, and whether it may relay from RELAYCLIENT.
// It reads its control files (me, smtpgreeting, rcpthosts,
// morercpthosts.cdb, badmailfrom, databytes, timeoutsmtpd, maxrcpt, locals,
// virtualdomains, recipients.cdb), greets, and serves the client: each
// message goes to bin/queue with a Received: line added, and is answered
// 250 with its id only once queue has made it durable. See smtpd(8).
#include <csignal>

#include "base/log.hpp"
#include <string_view>

#include "base/deadline.hpp"
#include "base/netio.hpp"
#include "mail/control.hpp"
#include "smtpd.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("smtpd");
  // -l: local submission on stdin/stdout (sendmail -bs). Only then is a
  // client without an address trusted; smtpd is not setuid, so -l gives a
  // caller nothing that sendmail would not.
  bool local_submission = argc == 2 && std::string_view(argv[1]) == "-l";
  if (argc > 2 || (argc == 2 && !local_submission)) log::die(100, "usage: smtpd [-l]");
  std::signal(SIGPIPE, SIG_IGN);
  // A caller that ignores SIGCHLD (swaks --pipe does, and the setting
  // survives exec) would make waiting for queue fail.
  std::signal(SIGCHLD, SIG_DFL);
  smtpd::Client client = smtpd::identify_client(local_submission);

  FdTransport fd_transport(0, 1);
  DeadlineTransport transport(fd_transport);
  smtpd::Policy policy;
  std::string why;
  if (!policy.load(why, client.local)) {
    NetIO io(transport, 60);
    io.put("421 4.3.0 temporary configuration problem; try again later\r\n");
    io.flush();
    log::die(111, why);
  }
  // Per-read timeouts (timeoutsmtpd) let a client that sends a byte a
  // minute stay for ever: a network client also gets a whole-connection
  // deadline and a shorter one for its first accepted MAIL.
  if (!client.local) {
    auto whole = control::number("deadlinesmtpd", 3600);
    auto first_mail = control::number("deadlinesmtpdmail", 180);
    if (!whole || !first_mail) {
      NetIO io(transport, 60);
      io.put("421 4.3.0 temporary configuration problem; try again later\r\n");
      io.flush();
      log::die(111, "unable to read control/deadlinesmtpd or deadlinesmtpdmail, or it is not a number");
    }
    transport.add(*whole, "421 4.4.2 " + policy.me + " connection time limit reached; closing the connection\r\n",
                  fmt::format("closed the connection from {}: time limit ({} seconds, control/deadlinesmtpd)",
                              client.name(), *whole));
    int mail = transport.add(
        *first_mail, "421 4.4.2 " + policy.me + " no mail transaction in time; closing the connection\r\n",
        fmt::format("closed the connection from {}: no MAIL accepted within {} seconds (control/deadlinesmtpdmail)",
                    client.name(), *first_mail));
    // The session says "250 2.1.0" (RFC 3463: address ok) to an accepted
    // MAIL and to nothing else: from then on the client is at work.
    transport.watch = [&transport, mail](std::string_view out) {
      if (out.starts_with("250 2.1.0") || out.find("\n250 2.1.0") != std::string_view::npos) {
        transport.cancel(mail);
        transport.watch = nullptr;
      }
    };
  }
  NetIO io(transport, static_cast<int>(policy.timeout));
  smtpd::Session session(io, policy, client);
  return session.run();
}
