// remote: delivers one message over SMTP to the recipients at one domain.
//
//   remote DOMAIN SENDER RECIPIENT...
//
// rspawn runs it as posternr with the queue's message file on fd 0. It
// finds the route (route.hpp: control/smtproutes, MX, A/AAAA, literals),
// connects (skipping hosts that timed out lately, see tcpto(8)) and talks
// SMTP (session.hpp), all recipients in one session. It prints one line
// for each recipient, in order: "K text" delivered, "Z text" try again
// later, "D text" failed for good, where text is the remote host's reply
// or our reason. Exit 0 after printing; 111 when it could not work at all
// (rspawn then defers every recipient).
//
// Control files: helohost (default me), timeoutconnect (60 s),
// timeoutremote (1200 s), outgoingip, smtproutes, me, locals, tlspolicy
// and tlsremoteca (STARTTLS, tls_policy.hpp and tls_client.hpp),
// trustanchors (DANE, dnssec.hpp); the MTA-STS cache in queue/mtasts
// (sts.hpp).
//
// Runs as posternr, never as root in a multi-user install: it parses DNS
// answers and SMTP replies from anyone. Trusts rspawn for its arguments and
// the control files; trusts nothing from the network (every reply line,
// DNS answer and name is bounded and checked).
#include <signal.h>

#include <string>
#include <vector>

#include "mail/control.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "route.hpp"
#include "session.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "dnssec.hpp"
#include "host_policy.hpp"
#include "sts.hpp"
#include "tls_policy.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::remote;

int main(int argc, char** argv) {
  log::set_program("remote");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0))
    log::die(status::temporary, "refusing to run as root");
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 4) log::die(status::temporary, "usage: remote domain sender recipient...");
  std::string domain = argv[1];
  std::string sender = argv[2];
  std::vector<std::string> recipients(argv + 3, argv + argc);

  auto me = control::line("me", host_name());
  auto helo = me ? control::line("helohost", *me) : std::nullopt;
  auto tc = control::number("timeoutconnect", 60);
  auto tr = control::number("timeoutremote", 1200);
  auto ip = control::line("outgoingip", "");
  if (!helo || !tc || !tr || !ip) log::die(status::temporary, "unable to read a control file (helohost, timeouts, outgoingip)");
  Settings settings{*helo, static_cast<int>(std::min(*tc, 3600ul)), static_cast<int>(std::min(*tr, 86400ul)), *ip,
                    lower(domain), {}, nullptr, std::nullopt};
  std::vector<Outcome> outcomes;
  TlsPolicyLookup policy = tls_policy_for(settings.domain);
  settings.tls = policy.policy;
  // dane: every lookup through the validating resolver (RFC 7672 2.2).
  std::unique_ptr<DnssecResolver> dnssec;
  std::string dnssec_why;
  if (policy.ok && settings.tls.level == TlsLevel::dane) {
    dnssec = DnssecResolver::open(settings.timeout_connect, dnssec_why);
    settings.dnssec = dnssec.get();
  }
  Route route;
  if (policy.ok && (settings.tls.level != TlsLevel::dane || dnssec)) route = find_route(domain, 25, dnssec.get());
  // MTA-STS where the admin asked for no more than may or dane, and the
  // hosts come from DNS (not smtproutes or a literal).
  if (policy.ok && route.result == Route::Result::ok && route.from_mx &&
      (settings.tls.level == TlsLevel::may || settings.tls.level == TlsLevel::dane)) {
    StsLookup sts = sts_policy_for(settings.domain, settings.timeout_connect);
    settings.sts = sts.policy;
    if (sts.policy || !sts.note.empty())
      log::line("MTA-STS policy of {}: {} ({})", settings.domain,
                sts.policy ? mode_name(sts.policy->mode) : "none", log::printable(sts.note, 300));
    if (!sts.failure.empty())
      record_tls(settings, tls_report::Session{"sts", {}, "", "", "", ""}, sts.failure, sts.note);
  }
  if (!policy.ok) {
    outcomes.assign(recipients.size(), Outcome{'Z', policy.why});
  } else if (settings.tls.level == TlsLevel::dane && !dnssec) {
    outcomes.assign(recipients.size(),
                    Outcome{'Z', "DANE is asked for " + settings.domain + " (" + settings.tls.source +
                                     ") but DNSSEC cannot be used: " + dnssec_why + ". (#4.7.5)"});
  } else if (route.result != Route::Result::ok) {
    outcomes.assign(recipients.size(), Outcome{route.result == Route::Result::permanent ? 'D' : 'Z', route.why});
  } else {
    outcomes = deliver(route.destinations, settings, sender, recipients);
  }
  std::string out;
  for (auto& o : outcomes) out += std::string(1, o.result) + " " + log::printable(o.text, 900) + "\n";
  if (!write_all(1, out)) return status::temporary;
  return 0;
}
