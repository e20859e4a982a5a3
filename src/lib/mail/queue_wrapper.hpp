// queue_wrapper: what programs with queue's interface that must see a
// whole message before it is queued (dkimsign, authcheck) share, as
// qmail's QMAILQUEUE wrappers do: the message read from fd 0 into a
// temporary file with its header kept in memory, the envelope read from
// fd 1 and checked as queue checks it, and both handed on to the queue
// with new header fields in front, the queue's exit code and id passed
// back. The caller is untrusted (these programs are setuid): every read
// is bounded, and failures end the program with queue's exit codes.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "mail/envelope.hpp"

namespace postern::queue_wrapper {

// The header is kept up to here; a longer one is still queued whole.
constexpr std::size_t max_head = 1 << 20;

class Spool {
 public:
  // Reads fd 0 to its end into a temporary file, passing every piece to
  // each (when given) as it arrives. Dies on a read or write error.
  explicit Spool(const std::function<void(std::string_view)>& each = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // The header as read, up to and including the blank line that ends it
  // (or all of the first max_head bytes), LF line ends as queued.
  const std::string& head() const { return head_; }
  // Whether head() holds the whole header and its blank line.
  bool head_complete() const { return head_complete_; }
  // The message again from byte offset `from`, a piece at a time, until
  // each returns false. False on a read error of the temporary file.
  bool replay(std::size_t from, const std::function<bool(std::string_view)>& each);

 private:
  std::FILE* file_ = nullptr;
  std::string head_;
  bool head_complete_ = false;
};

// The envelope on fd 1, checked as queue checks it; dies otherwise.
Envelope read_envelope();

// Hands `fields` (header fields, each ending in "\n"), then the message
// from byte `from` of spool, to the queue (queue_client, never signing
// again); writes the new id to fd 3 when report_id. Returns queue's code.
int hand_on(const std::string& fields, Spool& spool, std::size_t from, const Envelope& envelope, bool report_id);

// Whether the caller left descriptor 3 open (for the id, or a refusal):
// asked before anything is opened, which could land on 3.
bool descriptor_3_open();

}  // namespace postern::queue_wrapper
