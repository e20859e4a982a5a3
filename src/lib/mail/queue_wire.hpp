// queue_wire: the protocol between queue_client and queued, the queue
// writer, over its unix socket (queue/lock/queued). Every unit is a frame:
// a type byte, the payload's length as 4 bytes big-endian, the payload.
//
//   queued -> client   R (ready, empty) or B (busy: text; the client falls
//                      back to bin/queue)
//   client -> queued   M (a piece of the message, at most max_chunk bytes)
//                      ..., E (a piece of the envelope, queue's fd 1
//                      encoding, at most max_chunk bytes) ..., F (end, empty)
//   queued -> client   Q (queued: the new id) or X (failed: qmail-queue's
//                      exit code in decimal, a space, a text)
//
// Nothing in a frame names the caller: queued takes its uid and pid from
// the socket (SO_PEERCRED). The Decoder trusts nothing: a frame of an
// unknown type or longer than its type allows is an error, so a reader
// holds at most one frame's bytes at a time.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace postern::queue_wire {

// The largest payload of M and E frames; the message itself is unbounded
// (as queue's fd 0), the envelope is bounded by queue_write::max_envelope.
constexpr std::size_t max_chunk = 65536;
// The largest payload of the other frames (B, Q, X texts).
constexpr std::size_t max_text = 1024;
constexpr std::size_t header_size = 5;

enum class Type : char {
  ready = 'R',
  busy = 'B',
  message = 'M',
  envelope = 'E',
  end = 'F',
  queued = 'Q',
  failed = 'X',
};

// One frame; a payload over the type's bound is cut to it.
std::string encode(Type type, std::string_view payload = {});
// An X frame's payload.
std::string encode_failure(int code, std::string_view text);
// Reads an X payload; false when it is not a code (1-255), a space, text.
bool decode_failure(std::string_view payload, int& code, std::string& text);

struct Frame {
  Type type = Type::end;
  std::string payload;
};

class Decoder {
 public:
  enum class Result { frame, more, bad };
  // Appends bytes read from the peer. Call next() until it says more
  // before feeding again: the buffer then stays within one frame.
  void feed(std::string_view bytes) { buf_.append(bytes); }
  Result next(Frame& out);
  // Why the last bad result was bad, for a log line.
  const std::string& error() const { return error_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace postern::queue_wire
