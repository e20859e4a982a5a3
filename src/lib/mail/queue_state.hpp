// queue_state: send's record of one message in queue/state/<id>, which
// mailq also reads. One line a field, tab separated, so that a look with
// cat tells an administrator where a message stands:
//
//   postern-state 2
//   F <sender>
//   A <arrival time, seconds since the epoch>
//   H <who held it>          only while the message is on hold (queuectl)
//   K <who deleted it>       only after a delete that found deliveries in flight
//   R <channel><state> <attempts> <next try> <address> <last reason>
//   E <number of R lines>
//
// The E line tells a whole record from a torn one (it is not fsync'ed);
// records of version 1, without it, are still read.
// channel: L local, R remote. state: P pending, D delivered, B failed with a
// bounce still owed, X failed and bounced. The record is a cache of the
// envelope in todo/<id> plus progress: if it is lost, send rebuilds it from
// the envelope (at worst delivering again, never losing a recipient).
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

struct RecipientState {
  std::string address;
  char channel = 'L';
  char state = 'P';
  unsigned attempts = 0;
  std::time_t next_try = 0;
  std::string reason;
};

struct MessageState {
  std::string sender;
  std::time_t arrived = 0;
  // On hold: no new delivery starts until it is released. What is written
  // is who asked ("uid0"), for the record's reader.
  std::string held_by;
  bool held() const { return !held_by.empty(); }
  // Deleted while deliveries were in flight: what they leave pending is
  // dropped when they report, or when send next loads the record.
  std::string deleted_by;
  std::vector<RecipientState> recipients;
};

std::string encode_state(const MessageState& m);
std::optional<MessageState> decode_state(std::string_view text);

// A queued message as mailq and queuectl show it: send's record when there
// is a whole one, else the envelope in todo/ (every recipient pending,
// channel '?'). Empty when the message is not (or no longer) queued.
struct QueuedMessage {
  MessageState state;
  bool seen_by_send = false;
};
std::optional<QueuedMessage> read_queued(const std::string& id);

// One recipient's fate in words: "delivered", "pending, 2 attempts, next
// attempt <date>", "failed, bounce pending", "failed".
std::string describe_recipient(const RecipientState& r);

}  // namespace postern
