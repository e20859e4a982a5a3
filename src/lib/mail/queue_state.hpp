// queue_state: send's record of one message in queue/state/<id>, which
// mailq also reads. One line a field, tab separated, so that a look with
// cat tells an administrator where a message stands:
//
//   postern-state 2
//   F <sender>
//   A <arrival time, seconds since the epoch>
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
  std::vector<RecipientState> recipients;
};

std::string encode_state(const MessageState& m);
std::optional<MessageState> decode_state(std::string_view text);

}  // namespace postern
