// plan: the scheduler's decisions as plain functions of its picture of the
// queue (no files, pipes or clocks of their own), so that unit tests can
// check them: the retry schedule, the lifetime, and which due recipients
// get the free delivery slots.
//
// Trusts its caller's numbers; returns times and lists of picks.
#pragma once
#include <cstddef>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace postern::send {

// qmail's schedule: tries at arrived + (n * step)^2 (step 10 s local, 20 s
// remote), so the gaps grow with the message's age; the next try is the
// first of these still after now.
std::time_t next_retry(char channel, std::time_t arrived, std::time_t now);

// A temporary failure at now bounces instead once the message is older
// than lifetime (control/queuelifetime).
bool lifetime_over(std::time_t arrived, std::time_t now, std::time_t lifetime);

// One request for a spawn: a message and the recipients it carries.
struct Pick {
  std::string id;
  std::vector<std::size_t> recipients;
};

// Shares one channel's free slots between the recipients due now. The
// recipients of a message at one domain go in one request (up to
// max_batch: remote, one SMTP session); local requests carry one each
// (max_batch 1, one domain ""). Slots go round robin between domains,
// and within a domain round robin between messages, each turn starting
// after the domain and the message that were served last, so a message
// with thousands of recipients cannot hold every slot while others wait.
class Picker {
 public:
  explicit Picker(std::size_t max_batch) : max_batch_(max_batch ? max_batch : 1) {}
  // A recipient due now: recipient index of message id, at domain. Offered
  // in index order for each message.
  void offer(const std::string& domain, const std::string& id, std::size_t index);
  // Up to slots requests from what was offered since the last take; forgets
  // the offers, keeps the turns.
  std::vector<Pick> take(std::size_t slots);

 private:
  std::size_t max_batch_;
  std::map<std::string, std::map<std::string, std::vector<std::size_t>>> due_;
  std::string last_domain_;
  std::map<std::string, std::string> last_id_;  // per domain: the message served last
};

}  // namespace postern::send
