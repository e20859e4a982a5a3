// smtpd: receives mail over SMTP and puts it into the queue.
//
// Runs as: posternd (group nofiles) under tcpserver -u/-g or inetd, once
// for each connection; or as the calling user for sendmail -bs (-l). Never
// as root in a multi-user install: a network client is refused then, and
// a local root caller gets the daemon user's ids (client.cpp, leave_root).
// Trusts: its control files and the TCPREMOTEIP/TCPREMOTEHOST/RELAYCLIENT
// that tcpserver or tcp-env set; nothing the client sends. Every command
// line, message and count is bounded (smtpd.hpp, mail/message_rules.hpp).
//
// It speaks SMTP on descriptors 0 and 1. It reads its control files (me,
// smtpgreeting, rcpthosts, morercpthosts.cdb, badmailfrom, databytes,
// timeoutsmtpd, maxrcpt, locals, virtualdomains, recipients.cdb), greets,
// and serves the client: each message goes to bin/queue with a Received:
// line added, and is answered 250 with its id only once queue has made it
// durable. Exit codes (mail/status.hpp): 0 after a session, 100 for a bad
// command line, 111 when it cannot serve (configuration, root). See
// smtpd(8).
#include <csignal>

#include "base/log.hpp"
#include <string_view>

#include "base/deadline.hpp"
#include "base/netio.hpp"
#include "mail/status.hpp"
#include "deadlines.hpp"
#include "smtpd.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("smtpd");
  // -l: local submission on stdin/stdout (sendmail -bs). Only then is a
  // client without an address trusted; smtpd is not setuid, so -l gives a
  // caller nothing that sendmail would not.
  bool local_submission = argc == 2 && std::string_view(argv[1]) == "-l";
  if (argc > 2 || (argc == 2 && !local_submission)) log::die(status::permanent, "usage: smtpd [-l]");
  std::signal(SIGPIPE, SIG_IGN);
  // A caller that ignores SIGCHLD (swaks --pipe does, and the setting
  // survives exec) would make waiting for queue fail.
  std::signal(SIGCHLD, SIG_DFL);
  smtpd::Client client = smtpd::identify_client(local_submission);

  FdTransport fd_transport(0, 1);
  DeadlineTransport transport(fd_transport);
  smtpd::Policy policy;
  std::string why;
  if (!smtpd::leave_root(client, why) || !policy.load(why, client.local)) {
    NetIO io(transport, 60);
    io.put("421 4.3.0 temporary configuration problem; try again later\r\n");
    io.flush();
    log::die(status::temporary, why);
  }
  int first_mail = 0;
  if (!smtpd::add_deadlines(transport, policy, client, first_mail, why)) {
    NetIO io(transport, 60);
    io.put("421 4.3.0 temporary configuration problem; try again later\r\n");
    io.flush();
    log::die(status::temporary, why);
  }
  NetIO io(transport, static_cast<int>(policy.timeout));
  smtpd::Session session(io, policy, client);
  // From its first accepted MAIL on, the client is at work: only the
  // whole-connection deadline is left.
  if (first_mail) session.on_mail_accepted = [&transport, first_mail] { transport.cancel(first_mail); };
  return session.run();
}
