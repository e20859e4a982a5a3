// deadline: see deadline.hpp.
#include "base/deadline.hpp"

#include <algorithm>
#include <cerrno>

#include "base/log.hpp"

namespace postern {

int DeadlineTransport::add(unsigned long seconds, std::string goodbye, std::string log_line) {
  if (seconds == 0) return 0;
  int id = next_id_++;
  deadlines_.push_back({id, Clock::now() + std::chrono::seconds(seconds), std::move(goodbye), std::move(log_line)});
  return id;
}

void DeadlineTransport::cancel(int id) {
  std::erase_if(deadlines_, [id](const Deadline& d) { return d.id == id; });
}

const DeadlineTransport::Deadline* DeadlineTransport::next() const {
  const Deadline* best = nullptr;
  for (auto& d : deadlines_)
    if (!best || d.at < best->at) best = &d;
  return best;
}

int DeadlineTransport::bound(int timeout) const {
  const Deadline* d = next();
  if (!d) return timeout;
  // Whole seconds, rounded up: a wait ends at or just after the deadline,
  // never before it (which would spin).
  auto left = std::chrono::ceil<std::chrono::seconds>(d->at - Clock::now()).count();
  int secs = static_cast<int>(std::clamp<long long>(left, 1, 86400 * 366));
  return timeout > 0 ? std::min(timeout, secs) : secs;
}

bool DeadlineTransport::check() {
  if (expired_) return true;
  const Deadline* d = next();
  if (!d || Clock::now() < d->at) return false;
  expired_ = true;
  log::write_line(d->log_line);
  // The client may not be reading: a short wait, then give up on it.
  if (!d->goodbye.empty()) inner_.write(d->goodbye, 10);
  return true;
}

bool DeadlineTransport::pending() const {
  const Deadline* d = next();
  return expired_ || (d && Clock::now() >= d->at) || inner_.pending();
}

ssize_t DeadlineTransport::read(char* buf, std::size_t n, int timeout) {
  if (check()) return 0;
  ssize_t r = inner_.read(buf, n, bound(timeout));
  if (r < 0 && errno == ETIMEDOUT && check()) return 0;
  return r;
}

bool DeadlineTransport::write(std::string_view data, int timeout) {
  if (check()) {
    errno = EPIPE;
    return false;
  }
  if (inner_.write(data, bound(timeout))) return true;
  int e = errno;
  if (e == ETIMEDOUT) check();
  errno = e;
  return false;
}

}  // namespace postern
