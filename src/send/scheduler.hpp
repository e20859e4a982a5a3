// scheduler: send's picture of the queue and the decisions made from it:
// which recipient to try now, what each delivery's result means, when to
// bounce and when a message is finished. The decisions that need no queue
// (retry times, the lifetime, sharing the slots) are in plan.hpp.
//
// Messages enter from queue/todo (the envelopes queue wrote), are recorded in
// queue/state, and leave through clean once every recipient is delivered or
// bounced. Deliveries go out to lspawn (local) and rspawn (remote) as
// spawn_protocol requests; their reports come back through on_report().
#pragma once
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controls.hpp"
#include "base/io.hpp"
#include "mail/queue_request.hpp"
#include "mail/queue_state.hpp"
#include "mail/spawn_protocol.hpp"
#include "plan.hpp"

namespace postern::send {

// One way out of the queue: a spawn program and its two pipes.
struct Channel {
  char name;           // 'L' or 'R'
  int to = -1;         // requests; -1 when the channel is not running
  int from = -1;       // reports
  unsigned long busy = 0;
  std::unique_ptr<LineReader> reader;
};

class Scheduler {
 public:
  Scheduler(Controls controls, Channel* local, Channel* remote, int clean_to, int clean_from);

  void set_controls(Controls controls) { controls_ = std::move(controls); }
  // At start: removes records left without an envelope by a crash.
  void recover();
  // Loads every envelope in todo/ that is not known yet.
  void scan_todo();
  // Makes every pending recipient due now (SIGALRM, sendmail -q).
  void retry_all();
  // Starts the deliveries that are due and fit the concurrency limits,
  // sharing the free slots round robin (plan.hpp: Picker).
  void start_due(std::time_t now);
  // Writes the records that changed, each at most once a second (a record
  // is a cache: progress lost in a crash means a repeated delivery).
  // all: every changed record now, as before exiting.
  void flush(std::time_t now, bool all = false);
  // Sends owed bounces and finishes completed messages: those whose state
  // changed since the last call, and once their minute is up those whose
  // bounce or clean-up failed.
  void settle(std::time_t now);
  // Reads and applies every complete report waiting on a channel.
  void read_reports(Channel& channel);
  // Milliseconds until something becomes due (at most a minute).
  int timeout_ms(std::time_t now);
  std::size_t in_flight() const { return deliveries_.size(); }
  // Whether clean has gone (it exited, or broke the protocol): nothing
  // finished can be removed until the system is restarted.
  bool clean_lost() const { return clean_to_ < 0; }
  // Called when clean's reply descriptor is readable outside a request:
  // that is clean's end of file (or bytes it must not send); either way
  // clean is lost.
  void clean_hung_up();
  std::size_t messages() const { return messages_.size(); }
  // Applies the administrator's requests waiting in queue/ctl and answers
  // each (requests.cpp): called between events, never inside a delivery's
  // bookkeeping, so a request sees every delivery in flight as in flight.
  void take_requests();
  // Makes the pending recipients the selector names due now (sendmail -qR,
  // -qS, -qI), except on held messages.
  void flush_matching(const queue_request::Selector& s);

 private:
  struct Message {
    std::string id;
    MessageState state;
    std::vector<bool> busy;  // per recipient: a delivery is in flight
    unsigned in_flight = 0;
    std::size_t first_pending = 0;  // recipients before it are done for good
    std::time_t saved_at = 0;
    std::time_t next_settle = 0;  // when a failed bounce or clean-up is tried again
    bool dirty = false;
    double queued_at = 0;  // state.arrived with fractions, for the log's delay=
    bool on_local = false, on_remote = false;  // has recipients on that channel, in any state
  };
  struct Delivery {
    std::string id;
    std::size_t index;
    Channel* channel;
    unsigned long request;  // the first delnum of the request it went in
    double started = 0;     // for the log's delays=
  };

  bool load(const std::string& id);
  // Puts m into messages_ and counts the channels it uses.
  Message& add(const std::string& id, Message m);
  // False (and what is left removed) when the message file is gone.
  bool message_present(const std::string& id);
  // decision: an administrator's change (queuectl), synced like a hold.
  void save(Message& m, bool decision = false);
  // m's record is to be written by flush().
  void changed(Message& m);
  // m's recipients changed state: settle() looks at it next time.
  void touched(const Message& m) { unsettled_.insert(m.id); }
  // A recipient of m waits until then: timeout_ms() wakes send for it.
  void wake_at(std::time_t t) { wakeups_.insert(t); }
  // settle()'s work on one message; true when it is finished and can go.
  bool settle_one(Message& m, std::time_t now);
  void apply(const Delivery& d, char result, const std::string& text, std::time_t now);
  // The log line of a recipient's attempt (or of a bounce decided without
  // one, started == 0), after its state was set.
  void log_attempt(const Message& m, std::size_t index, double started);
  bool bounce(Message& m, std::time_t now);
  bool finish(Message& m);
  bool ask_clean(const std::string& id);
  void dispatch(Channel& ch, const std::vector<Pick>& picks);
  // One request from queue/ctl applied; the lines of its answer.
  std::string act(const queue_request::Request& req, const std::string& by);
  void act_on(Message& m, queue_request::Action action, const std::string& by, std::string& answer);

  Controls controls_;
  Channel* local_;
  Channel* remote_;
  int clean_to_, clean_from_;
  std::map<std::string, Message> messages_;
  std::map<unsigned long, Delivery> deliveries_;
  std::map<unsigned long, std::size_t> requests_;  // request -> recipients not yet reported
  unsigned long next_delnum_ = 1;
  std::string walk_after_;  // start_due's walk goes on after this message
  std::size_t local_holders_ = 0, remote_holders_ = 0;  // messages with recipients on each channel
  // What the event loop's bookkeeping looks at, kept as it changes so that
  // no event costs a walk over the whole queue (at 100,000 messages those
  // walks were 80% of send's CPU):
  std::set<std::string> unsettled_;  // settle(): changed since its last call
  bool settle_all_ = false;          // settle(): every message (sendmail -q)
  std::time_t settle_retry_at_ = std::numeric_limits<std::time_t>::max();  // earliest next_settle
  std::set<std::string> dirty_;      // flush(): records to write (some may be written already)
  std::set<std::time_t> wakeups_;    // timeout_ms(): when deferred recipients fall due (some stale)
  Picker local_picker_{1};
  Picker remote_picker_{spawn::max_recipients};  // one SMTP session for a domain's recipients
};

}  // namespace postern::send
