// deadline: a Transport that ends a session when a deadline passes, however
// busy the client keeps it. The per-read timeouts of NetIO bound each wait;
// a client that sends one byte a minute passes every one of them, so the
// daemons also give each session (and the time before a login or a first
// MAIL) a fixed end.
//
// It wraps the real transport and trusts it; it trusts the caller for the
// goodbye text and the log line. Each read or write waits at most until
// the earliest deadline; when one has passed, the wrapper writes that
// deadline's goodbye (the protocol's own: "421 4.4.2 ...", "-ERR ...",
// "* BYE ...") to the client, logs its line, and from then on every read
// returns end of input and every write fails, so the session ends the way
// it does when the client leaves. NetIO flushes its replies before it
// reads, so the goodbye never lands inside another reply.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/netio.hpp"

namespace postern {

class DeadlineTransport : public Transport {
 public:
  explicit DeadlineTransport(Transport& inner) : inner_(inner) {}

  // A deadline seconds from now (none when seconds is 0); returns its id.
  int add(unsigned long seconds, std::string goodbye, std::string log_line);
  // Drops a deadline (one that is no longer wanted, e.g. after a login).
  void cancel(int id);
  bool expired() const { return expired_; }

  ssize_t read(char* buf, std::size_t n, int timeout) override;
  bool write(std::string_view data, int timeout) override;
  // A passed deadline is pending: the read that follows says goodbye.
  bool pending() const override;
  int wait_limit(int timeout) const override { return inner_.wait_limit(bound(timeout)); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Deadline {
    int id;
    Clock::time_point at;
    std::string goodbye, log_line;
  };
  // The earliest deadline, or nullptr.
  const Deadline* next() const;
  // The wait to use: timeout (0: none), shortened to the earliest deadline.
  int bound(int timeout) const;
  // True when a deadline has passed; then says goodbye, once.
  bool check();

  Transport& inner_;
  std::vector<Deadline> deadlines_;
  int next_id_ = 1;
  bool expired_ = false;
};

}  // namespace postern
