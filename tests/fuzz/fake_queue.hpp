// fake_queue: what the fuzz targets' stand-in for QueueClient (fake_queue.cpp)
// saw: the messages and envelopes smtpd handed to "the queue", kept in
// memory instead of running bin/queue. Trusts its callers (the targets).
#pragma once
#include <string>
#include <vector>

#include "mail/envelope.hpp"

namespace fuzz {

struct Queued {
  std::string text;   // every byte written, Received: line included
  postern::Envelope envelope;
  bool finished = false;
};

// How the stand-in behaves for the messages that follow.
struct QueueBehaviour {
  bool start_fails = false;   // the queue program cannot be run
  bool write_fails = false;   // it stops reading
  int exit_code = 0;          // finish's answer: 0 queued, else a failure code
};

QueueBehaviour& queue_behaviour();
// Every message started since the last clear, in order.
std::vector<Queued>& queued();

}  // namespace fuzz
