// fake_queue: QueueClient (mail/queue_client.hpp) for the fuzz targets, in
// place of the real one, which forks bin/queue for every message: the
// bytes and envelope go to fuzz::queued() in memory, and the answer is the
// one fuzz::queue_behaviour() asks for. Linked before the library archive,
// so queue_client.o is never pulled in. Trusts the code under test no more
// than the real queue does: it only records.
#include "fake_queue.hpp"

#include "mail/queue_client.hpp"

namespace fuzz {

QueueBehaviour& queue_behaviour() {
  static QueueBehaviour b;
  return b;
}

std::vector<Queued>& queued() {
  static std::vector<Queued> q;
  return q;
}

}  // namespace fuzz

namespace postern {

// pid_ holds the index of this message in fuzz::queued(), plus one.
QueueClient::QueueClient(Origin, const Peer*) {
  if (fuzz::queue_behaviour().start_fails) return;
  fuzz::queued().push_back({});
  pid_ = static_cast<pid_t>(fuzz::queued().size());
}

QueueClient::~QueueClient() = default;

bool QueueClient::write(std::string_view bytes) {
  if (pid_ <= 0 || fuzz::queue_behaviour().write_fails) return false;
  fuzz::queued()[static_cast<std::size_t>(pid_ - 1)].text.append(bytes);
  return true;
}

int QueueClient::finish(const Envelope& envelope) {
  if (pid_ <= 0) return 81;
  auto& q = fuzz::queued()[static_cast<std::size_t>(pid_ - 1)];
  q.envelope = envelope;
  q.finished = true;
  int code = fuzz::queue_behaviour().exit_code;
  if (code == 0) queue_id_ = "12345";
  return code;
}

bool queue_failure_is_permanent(int code) { return (code >= 11 && code <= 40) || code == 91; }

std::string queue_failure_text(int code) { return "fake queue failure " + std::to_string(code); }

}  // namespace postern
