// queue_client: hands a message to the queue, the only way any program
// puts mail into it (inject, local's forwards, send's bounces, smtpd).
// It talks to queued, the queue writer, over queue/lock/queued
// (mail/queue_wire.hpp) when queued accepts the connection and says it is
// ready; otherwise (not running, refused, full) it runs conf-home/bin/queue
// with the message on a pipe to its fd 0 and the envelope on a pipe to its
// fd 1. Either way the caller sees queue's exit codes and the new id.
// Trusts queued's reply only as far as its frames decode.
#pragma once
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

#include "mail/envelope.hpp"
#include "mail/queue_exit.hpp"
#include "base/io.hpp"

namespace postern {

// Where a message comes from, for DKIM signing: mail that starts here
// (local injection, authenticated or RELAYCLIENT submission, bounces) is
// signed; mail passed on from elsewhere (SMTP from other hosts, forwards)
// never is, so that no forged From: gets this host's signature.
enum class Origin { passed_on, here };

// What smtpd knows of a client on another host, for authcheck(8): when
// it is given and control/authpolicy exists, mail passed on goes through
// bin/authcheck, which checks SPF, DKIM and DMARC, adds an
// Authentication-Results field, and may refuse the message.
struct Peer {
  std::string ip;
  std::string helo;
};

class QueueClient {
 public:
  // Connects to queued, or starts bin/queue (or bin/dkimsign, above).
  // ok() is false if neither could be reached.
  explicit QueueClient(Origin origin = Origin::passed_on, const Peer* peer = nullptr);
  ~QueueClient();
  QueueClient(const QueueClient&) = delete;
  QueueClient& operator=(const QueueClient&) = delete;

  bool ok() const { return pid_ > 0 || writer_.ok(); }
  // Whether the message goes through queued (rather than bin/queue).
  bool through_writer() const { return writer_.ok(); }
  // Appends bytes to the message; false once queue has stopped reading.
  bool write(std::string_view bytes);
  // Sends the envelope and waits: returns queue's exit code (0 queued),
  // or queue_exit::internal (81) when queue could not be run or died
  // from a signal, or queued went away before its reply.
  int finish(const Envelope& envelope);
  // After a successful finish: the queue's id of the message ("" if unknown).
  const std::string& queue_id() const { return queue_id_; }
  // After finish() returned refused (31) or temp_refused (71): the SMTP
  // reply the refusing program gave on descriptor 3 ("550 5.7.23 ..."),
  // or "" when it gave none that fits the code.
  const std::string& refusal() const { return refusal_; }

 private:
  bool connect_writer();
  void start_program(const char* name, const std::vector<std::string>& args = {});
  int finish_writer(const Envelope& envelope);

  Fd writer_;
  std::string pending_;  // message bytes not yet sent to queued (< max_chunk)
  pid_t pid_ = -1;
  Fd message_;
  Fd envelope_;
  Fd id_;
  std::string queue_id_;
  std::string refusal_;
};

// queue's exit codes (mail/queue_exit.hpp), for a log line or an SMTP reply.
bool queue_failure_is_permanent(int code);
std::string queue_failure_text(int code);

}  // namespace postern
