// queue_request: what an administrator asks of send about queued messages
// (queuectl's hold, release, requeue, delete; sendmail -qR, -qS, -qI) and
// which messages a request names. send alone changes the queue's state, so
// these are requests to it, carried two ways:
//
//   queue/ctl/NAME       a request file from root or posternq (queuectl);
//                        send trusts it by its owner, applies it and
//                        writes its answer to queue/ctl/NAME.answer
//   queue/lock/trigger   "q<kind><value in hex>\n" from anyone (sendmail
//                        -qR/-qS/-qI): only "retry these now", as anyone
//                        may ask with sendmail -q
//
// A request file: "postern-request 1", then "<action>\t<kind>\t<value>"
// lines, one per selector (kind i id, r recipient, s sender, d domain of a
// recipient, a all), and "E\t<number of selectors>". Trusts nothing in the bytes: decode_* check them.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/queue_state.hpp"

namespace postern::queue_request {

enum class Action { hold, release, requeue, remove, flush };

struct Selector {
  char kind = 'a';  // i, r, s, d, a
  std::string value;
};

struct Request {
  Action action = Action::flush;
  std::vector<Selector> selectors;
};

// Whether a selector's value is one send accepts (an id, an address, a
// domain, nothing for 'a'): callers check before asking, to tell a typo.
bool valid_selector(const Selector& s);

std::string_view action_name(Action a);
std::optional<Action> action_from_name(std::string_view name);

std::string encode(const Request& r);
std::optional<Request> decode(std::string_view text);

// Whether a selector names the message (addresses and domains compare
// without regard to case; "<>" or "" as sender names bounces).
bool matches(const Selector& s, const std::string& id, const MessageState& m);
// Whether a selector names this recipient of a message it matched: for a
// domain only the recipients in that domain, for the others all of them.
bool names_recipient(const Selector& s, const RecipientState& r);

// The trigger line of a flush (sendmail -qR etc.): lower-case letters and
// hex digits only, so that no byte of it is queue_dirs::retry_all.
std::string flush_line(const Selector& s);

// Collects flush lines from the trigger's bytes, which also carry single
// bytes that only poke; keeps at most one line's worth.
class FlushReader {
 public:
  void feed(const char* data, std::size_t n);
  // The selectors of the lines completed since the last call.
  std::vector<Selector> take();

 private:
  bool in_line_ = false;
  std::string line_;
  std::vector<Selector> done_;
};

// Writes a flush line to the trigger; false when send is not listening.
bool poke_flush(const Selector& s);

}  // namespace postern::queue_request
