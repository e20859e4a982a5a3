// tally: what mailstats counts from the parsed log lines (logline.hpp):
// totals, per day and per hour of day, top tables, reasons, delays. Every
// table is bounded (TopTable keeps at most max_keys keys, then counts the
// rest apart and says so), per-message state is dropped at the message's
// end line, and delays are kept to three significant digits, so memory
// stays bounded however long the log. Trusts the LogLine it is given only
// to be a parse result; numbers that do not parse count as 0.
#pragma once
#include <array>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "logline.hpp"

namespace postern::mailstats {

struct Counted {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

// Counts and bytes by key; at most max_keys keys (each cut to 200 bytes).
class TopTable {
 public:
  explicit TopTable(std::size_t max_keys = 100000) : max_keys_(max_keys) {}
  void add(std::string_view key, std::uint64_t bytes = 0);
  // The n largest by count (or by bytes), ties in key order.
  std::vector<std::pair<std::string, Counted>> top(std::size_t n, bool by_bytes = false) const;
  bool truncated() const { return left_out_.count > 0; }
  // What was counted under keys that no longer fitted.
  const Counted& left_out() const { return left_out_; }
  std::size_t size() const { return keys_.size(); }

 private:
  std::size_t max_keys_;
  std::unordered_map<std::string, Counted> keys_;
  Counted left_out_;
};

// Delays in seconds, kept to 1/100 s until more than 50000 distinct
// values came, then at three significant digits (a few thousand entries
// however many deliveries).
class Delays {
 public:
  void add(double seconds);
  void merge(const Delays& other);
  std::uint64_t count() const { return count_; }
  // The nearest-rank percentile (0 < p <= 100); 0 when empty.
  double percentile(double p) const;
  double max() const { return max_; }

 private:
  static constexpr std::size_t max_exact = 50000;
  void make_coarse();
  std::map<std::int64_t, std::uint64_t> buckets_;  // value in 1/100 s -> count
  bool coarse_ = false;
  std::uint64_t count_ = 0;
  double max_ = 0;
};

// The reason text with what differs between similar reasons replaced:
// addresses by <ADDR>, IP addresses by IP, ids and numbers by N (an SMTP
// reply code in front and enhanced status codes x.y.z are kept), cut to
// 120 bytes.
std::string normalise_reason(std::string_view reason);

// One row of the per-day and per-hour tables.
struct Traffic {
  Counted in, out;
  std::uint64_t deferred = 0, bounced = 0, rejected = 0;
};

struct Tally {
  // Lines.
  std::uint64_t lines = 0, counted = 0, other = 0, malformed = 0, too_long = 0, untimed = 0, outside = 0;
  std::uint64_t untracked = 0;  // messages not followed: too many in flight at once
  std::uint64_t repeated = 0;   // "new" lines of a message already queued and not ended
  // Totals.
  Counted received, accepted, delivered, delivered_local, delivered_remote;
  std::uint64_t deferred = 0, deferred_messages = 0, bounced = 0, bounce_messages = 0, rejected = 0;
  std::optional<double> first, last;
  // Over time (local time, TZ): days as YYYYMMDD, hours 0-23.
  std::map<int, Traffic> days;
  std::array<Traffic, 24> hours{};
  // For the charts: in, out and delays per hour since the epoch.
  struct Slot {
    Counted in, out;
    Delays delays;
  };
  std::map<std::int64_t, Slot> slots;
  // Tops.
  TopTable senders, recipients, domains, domains_deferred, clients, reject_clients;
  TopTable sent_reasons, deferred_reasons, bounced_reasons, reject_reasons;
  Delays delays_local, delays_remote;

  // The time window (--since, --until): lines outside it are not counted,
  // nor, when one is set, lines without a time.
  std::optional<std::time_t> since, until;

  void add(const LogLine& line);

 private:
  struct Message {
    std::uint64_t size = 0;
    bool deferred = false;
    bool queued = false;  // its "new" line was seen
  };
  std::unordered_map<std::string, Message> messages_;
  std::uint64_t size_of(const std::string& msg) const;
  void count_in_time(const LogLine& line, const Traffic& delta, std::optional<double> delay);
};

// The domain of an address "<user@Domain>" in lower case, "" if none.
std::string domain_of(std::string_view address);

}  // namespace postern::mailstats
