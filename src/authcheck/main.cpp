// authcheck: checks where incoming mail comes from (SPF, DKIM, DMARC) on
// its way into the queue, and says so in an Authentication-Results field.
//
// It has queue's interface (qmail-queue's), with the client's address and
// HELO name as its two arguments: smtpd runs it in place of the queue for
// mail from other hosts whenever control/authpolicy exists. It reads the
// message into a temporary file while libopendkim checks its signatures,
// then checks SPF for the MAIL FROM address and the HELO name (libspf2),
// and DMARC for the From: domain (libopendmarc). It writes one
// Authentication-Results field (RFC 8601) naming control/me, removes those
// the message brought that claim to be ours, and hands the message on to
// the queue, unless a rule in control/authpolicy says to refuse it: then
// it writes the SMTP reply on descriptor 3 and exits 31 (5xx) or 71 (4xx),
// and smtpd gives that reply. One log line a message says what it found.
//
// Installed setuid to the checks' user (posternc), which can read neither
// the queue nor anyone's mail; the DNS answers are parsed by the
// libraries in this process alone. Trusts nothing from its caller: the
// arguments are facts about the client, checked before use; it refuses to
// run as root in a multi-user install.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "dkim_verify.hpp"
#include "dmarc.hpp"
#include "mail/author_domain.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_wrapper.hpp"
#include "spf.hpp"
#include "verdict.hpp"

using namespace postern;
using namespace postern::authcheck;

namespace {

// The checks (DNS look-ups for SPF, DKIM keys and DMARC) may take this
// long in all before the message is refused for now.
constexpr unsigned checks_seconds = 120;

void on_read_alarm(int) {
  const char msg[] = "authcheck: fatal: timeout reading the message or envelope\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(queue_exit::timeout);
}

bool report_fd = false;

void on_checks_alarm(int) {
  const char reply[] = "451 4.4.3 the sender's DNS took too long to answer; try again later\n";
  if (report_fd) [[maybe_unused]] auto r = ::write(3, reply, sizeof reply - 1);
  const char msg[] = "authcheck: the checks ran past their time; refused for now\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(queue_exit::temp_refused);
}

const char* action_name(Action a) {
  return a == Action::reject ? "reject" : a == Action::quarantine ? "quarantine" : "header";
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("authcheck");
  report_fd = queue_wrapper::descriptor_3_open();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGALRM, on_read_alarm);
  ::alarm(86400);
  if (!conf::single_user && ::geteuid() == 0) log::die(queue_exit::home_dir, "refusing to run as root (is the setuid bit set?)");
  if (argc != 3) log::die(queue_exit::internal, "usage: authcheck client-address helo-name");
  const std::string ip = argv[1];
  const std::string helo = std::string(argv[2]).substr(0, 255);

  DkimVerifier verifier;
  queue_wrapper::Spool spool([&](std::string_view piece) { verifier.feed(piece); });
  Envelope envelope = queue_wrapper::read_envelope();

  std::string why;
  auto lines = control::lines("authpolicy", why);
  if (!lines) log::die(queue_exit::config_error, why);
  auto policy = parse_policy(*lines, why);
  if (!policy) log::die(queue_exit::config_error, why);
  auto me = control::line("me", "", why);
  if (!me) log::die(queue_exit::config_error, why);

  ::signal(SIGALRM, on_checks_alarm);
  ::alarm(checks_seconds);
  Results r;
  r.sender = envelope.sender;
  r.helo = helo;
  r.spf_helo = check_spf(ip, helo, helo, *me);
  if (!r.sender.empty()) r.spf_mailfrom = check_spf(ip, helo, r.sender, *me);
  r.dkim = verifier.finish();
  r.dmarc = check_dmarc(ip, author_domain(spool.head()), spf_used(r), r.sender.empty(), r.dkim);
  ::alarm(0);
  Decision decision = decide(*policy, r);

  log::line("{} {} {} {} {} {} {}", log::kv("client", ip), log::kv("spf", spf_used(r).result),
            log::kv("dkim", dkim_summary(r.dkim)), log::kv("dmarc", r.dmarc.result),
            log::kv("from_domain", r.dmarc.domain.empty() ? "-" : r.dmarc.domain),
            log::kv("action", action_name(decision.action)), log::kv("rule", decision.key.empty() ? "-" : decision.key));
  if (decision.action == Action::reject) {
    if (report_fd) write_all(3, decision.reply + "\n");
    return decision.reply.front() == '4' ? queue_exit::temp_refused : queue_exit::refused;
  }
  // Quarantine: into the queue on hold, named by the rule that held it.
  if (decision.action == Action::quarantine) envelope.hold = "authcheck (" + decision.key + ")";
  std::string fields = authentication_results(*me, r);
  std::size_t from = 0;
  if (spool.head_complete()) {
    fields += without_forged_results(spool.head(), *me);
    from = spool.head().size();
  }
  return queue_wrapper::hand_on(fields, spool, from, envelope, report_fd);
}
