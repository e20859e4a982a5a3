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
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/dkim_keys.hpp"
#include "mail/header.hpp"
#include "mail/queue_client.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_write.hpp"
#include "signer.hpp"

using namespace postern;

namespace {

// The header is looked at up to here: a From: further down is not found,
// and the message goes unsigned.
constexpr std::size_t max_header = 1 << 20;

void on_alarm(int) {
  const char msg[] = "dkimsign: fatal: timeout reading the message or envelope\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(queue_exit::timeout);
}

// The domain of the message's one From: address, lower case; "" when
// there is no From:, more than one, or an address without a domain.
std::string from_domain(const std::string& head) {
  auto message = header::split_message(head);
  auto froms = header::find_all(message.fields, "From");
  if (froms.size() != 1) return {};
  auto boxes = header::parse_address_list(header::unfold(froms.front()->value));
  if (boxes.size() != 1) return {};
  const std::string& address = boxes.front().address;
  auto at = address.rfind('@');
  if (at == std::string::npos || at + 1 == address.size()) return {};
  return lower(address.substr(at + 1));
}

}  // namespace

int main() {
  log::set_program("dkimsign");
  bool report_id = ::fcntl(3, F_GETFD) >= 0;
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGALRM, on_alarm);
  ::alarm(86400);
  if (!conf::single_user && ::geteuid() == 0) log::die(queue_exit::home_dir, "refusing to run as root (is the setuid bit set?)");

  // The message goes to a file, since the signatures come before it and
  // are known only at its end; the header is also kept in memory.
  std::FILE* spool = std::tmpfile();
  if (!spool) log::die(queue_exit::write_error, std::string("unable to make a temporary file: ") + std::strerror(errno));
  std::string head;
  bool head_done = false;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) log::die(queue_exit::read_error, "unable to read the message");
    if (n == 0) break;
    std::string_view piece(buf, static_cast<std::size_t>(n));
    if (!head_done && head.size() < max_header) {
      std::size_t from = head.empty() ? 0 : head.size() - 1;
      head.append(piece.substr(0, max_header - head.size()));
      head_done = head.front() == '\n' || head.find("\n\n", from) != std::string::npos;
    }
    if (std::fwrite(piece.data(), 1, piece.size(), spool) != piece.size())
      log::die(queue_exit::write_error, "unable to write the temporary file (disk full?)");
  }
  auto envelope_bytes = read_all(1, queue_write::max_envelope);
  if (!envelope_bytes) log::die(queue_exit::read_error, "unable to read the envelope");
  Envelope envelope;
  int code = queue_write::check_envelope(*envelope_bytes, envelope);
  if (code != 0) log::die(code, "malformed envelope");

  std::string why;
  auto lines = control::lines("dkimkeys", why);
  if (!lines) log::die(queue_exit::config_error, why);
  std::string domain = from_domain(head);
  auto keys = dkim_keys::for_domain(*lines, domain, why);
  if (!keys) log::die(queue_exit::config_error, why);
  dkimsign::Signer signer;
  for (auto& key : *keys)
    if (!signer.add(key, why)) log::die(queue_exit::config_error, why);

  std::string signatures;
  if (!signer.empty()) {
    std::rewind(spool);
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, spool)) > 0;)
      if (!signer.feed(std::string_view(buf, n), why)) log::die(queue_exit::internal, why);
    if (std::ferror(spool)) log::die(queue_exit::write_error, "unable to read the temporary file");
    signatures = signer.finish(why);
    if (signatures.empty()) log::die(queue_exit::internal, why);
  }

  QueueClient queue;
  if (!queue.ok()) log::die(queue_exit::internal, "unable to reach the queue");
  bool written = queue.write(signatures);
  std::rewind(spool);
  for (std::size_t n; written && (n = std::fread(buf, 1, sizeof buf, spool)) > 0;)
    written = queue.write(std::string_view(buf, n));
  if (std::ferror(spool)) log::die(queue_exit::write_error, "unable to read the temporary file");
  code = queue.finish(envelope);
  if (code == queue_exit::queued && report_id && !queue.queue_id().empty()) write_all(3, queue.queue_id() + "\n");
  return code;
}
