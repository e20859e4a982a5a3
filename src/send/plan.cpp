// plan: see plan.hpp.
#include "plan.hpp"

#include <algorithm>
#include <cmath>

namespace postern::send {

std::time_t next_retry(char channel, std::time_t arrived, std::time_t now) {
  double step = channel == 'L' ? 10 : 20;
  double age = static_cast<double>(std::max<std::time_t>(0, now - arrived));
  auto n = static_cast<std::time_t>(std::floor(std::sqrt(age) / step)) + 1;
  auto gap = static_cast<std::time_t>(step) * n;
  return arrived + gap * gap;
}

bool lifetime_over(std::time_t arrived, std::time_t now, std::time_t lifetime) { return now - arrived > lifetime; }

void Picker::offer(const std::string& domain, const std::string& id, std::size_t index) {
  due_[domain][id].push_back(index);
}

namespace {

// The keys of m in turn order: those after `after`, then from the start.
template <class Map>
std::vector<typename Map::iterator> turn_order(Map& m, const std::string& after) {
  std::vector<typename Map::iterator> out;
  auto first = m.upper_bound(after);
  for (auto it = first; it != m.end(); ++it) out.push_back(it);
  for (auto it = m.begin(); it != first; ++it) out.push_back(it);
  return out;
}

}  // namespace

std::vector<Pick> Picker::take(std::size_t slots) {
  using Messages = std::map<std::string, std::vector<std::size_t>>;
  struct Domain {
    const std::string* name;
    std::vector<Messages::iterator> messages;  // in turn order
    std::vector<std::size_t> taken;            // per message: recipients already picked
    std::size_t next = 0;                      // the message whose turn is next
    std::size_t left = 0;                      // messages with recipients not picked
  };
  std::vector<Domain> domains;
  for (auto d : turn_order(due_, last_domain_)) {
    auto last = last_id_.find(d->first);
    Domain dom{&d->first, turn_order(d->second, last == last_id_.end() ? std::string() : last->second), {}, 0, 0};
    dom.taken.assign(dom.messages.size(), 0);
    dom.left = dom.messages.size();
    domains.push_back(std::move(dom));
  }
  std::vector<Pick> out;
  std::size_t active = domains.size();
  while (slots > 0 && active > 0) {
    for (auto& d : domains) {
      if (slots == 0) break;
      if (d.left == 0) continue;
      std::size_t n = d.messages.size();
      while (d.taken[d.next] >= d.messages[d.next]->second.size()) d.next = (d.next + 1) % n;
      auto& [id, indices] = *d.messages[d.next];
      std::size_t& k = d.taken[d.next];
      Pick pick{id, {}};
      while (k < indices.size() && pick.recipients.size() < max_batch_) pick.recipients.push_back(indices[k++]);
      if (k == indices.size() && --d.left == 0) --active;
      last_domain_ = *d.name;
      last_id_[*d.name] = id;
      out.push_back(std::move(pick));
      --slots;
      d.next = (d.next + 1) % n;
    }
  }
  // A domain's turn is only worth keeping while it has mail; the bound
  // keeps a long-running send from remembering every domain it ever saw.
  if (last_id_.size() > 4 * due_.size() + 1000) {
    for (auto it = last_id_.begin(); it != last_id_.end();)
      it = due_.count(it->first) ? std::next(it) : last_id_.erase(it);
  }
  due_.clear();
  return out;
}

}  // namespace postern::send
