// dkimsign: signs a message with DKIM on its way into the queue.
//
// It has queue's interface (qmail-queue's): the message on fd 0, the
// envelope on fd 1, the new id on fd 3 when that is open, and queue's exit
// codes. queue_client runs it in place of the queue for mail that starts
// here (local injection, authenticated or RELAYCLIENT submission, bounces)
// whenever control/dkimkeys has lines. It reads the whole message into a
// temporary file, finds the domain of its From: address, signs it with
// every key control/dkimkeys lists for that domain (signer.hpp), and hands
// the signatures and the message to the queue, whose exit code it returns.
// Mail whose From: names no such domain (or more than one address, or
// none) goes into the queue unsigned.
//
// Installed setuid to the DKIM user (posternk), the only reader of
// control/dkim; it trusts nothing from its caller, takes no path or setting
// from its environment or arguments, and refuses to run as root in a
// multi-user install. A key that cannot be read or used is a temporary
// failure (55), so mail waits rather than leave unsigned.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "base/log.hpp"
#include "mail/author_domain.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/dkim_keys.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_wrapper.hpp"
#include "signer.hpp"

using namespace postern;

namespace {

void on_alarm(int) {
  const char msg[] = "dkimsign: fatal: timeout reading the message or envelope\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(queue_exit::timeout);
}

}  // namespace

int main() {
  log::set_program("dkimsign");
  bool report_id = queue_wrapper::descriptor_3_open();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGALRM, on_alarm);
  ::alarm(86400);
  if (!conf::single_user && ::geteuid() == 0) log::die(queue_exit::home_dir, "refusing to run as root (is the setuid bit set?)");

  // The signatures come before the message and are known only at its end.
  queue_wrapper::Spool spool;
  Envelope envelope = queue_wrapper::read_envelope();

  std::string why;
  auto lines = control::lines("dkimkeys", why);
  if (!lines) log::die(queue_exit::config_error, why);
  auto keys = dkim_keys::for_domain(*lines, author_domain(spool.head()), why);
  if (!keys) log::die(queue_exit::config_error, why);
  dkimsign::Signer signer;
  for (auto& key : *keys)
    if (!signer.add(key, why)) log::die(queue_exit::config_error, why);

  std::string signatures;
  if (!signer.empty()) {
    bool fed = true;
    if (!spool.replay(0, [&](std::string_view piece) { return fed = signer.feed(piece, why); }))
      log::die(queue_exit::write_error, "unable to read the temporary file");
    if (!fed) log::die(queue_exit::internal, why);
    signatures = signer.finish(why);
    if (signatures.empty()) log::die(queue_exit::internal, why);
  }
  return queue_wrapper::hand_on(signatures, spool, 0, envelope, report_id);
}
