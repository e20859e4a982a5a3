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
#include "deadlines.hpp"
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
  if (!smtpd::add_deadlines(transport, policy, client, why)) {
    NetIO io(transport, 60);
    io.put("421 4.3.0 temporary configuration problem; try again later\r\n");
    io.flush();
    log::die(111, why);
  }
  NetIO io(transport, static_cast<int>(policy.timeout));
  smtpd::Session session(io, policy, client);
  return session.run();
}
