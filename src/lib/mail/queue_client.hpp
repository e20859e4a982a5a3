// queue_client: hands a message to the queue program, the only way any
// program puts mail into the queue (inject, local's forwards, send's
// bounces, smtpd). Runs conf-home/bin/queue with the message on a pipe to its
// fd 0 and the envelope on a pipe to its fd 1, and reports its exit code.
#pragma once
#include <string>
#include <string_view>
#include <sys/types.h>

#include "mail/envelope.hpp"
#include "mail/queue_exit.hpp"
#include "base/io.hpp"

namespace postern {

class QueueClient {
 public:
  // Starts bin/queue. ok() is false if it could not be started.
  QueueClient();
  ~QueueClient();
  QueueClient(const QueueClient&) = delete;
  QueueClient& operator=(const QueueClient&) = delete;

  bool ok() const { return pid_ > 0; }
  // Appends bytes to the message; false once queue has stopped reading.
  bool write(std::string_view bytes);
  // Sends the envelope and waits: returns queue's exit code (0 queued),
  // or queue_exit::internal (81) when queue could not be run or died
  // from a signal.
  int finish(const Envelope& envelope);
  // After a successful finish: the queue's id of the message ("" if unknown).
  const std::string& queue_id() const { return queue_id_; }

 private:
  pid_t pid_ = -1;
  Fd message_;
  Fd envelope_;
  Fd id_;
  std::string queue_id_;
};

// queue's exit codes (mail/queue_exit.hpp), for a log line or an SMTP reply.
bool queue_failure_is_permanent(int code);
std::string queue_failure_text(int code);

}  // namespace postern
