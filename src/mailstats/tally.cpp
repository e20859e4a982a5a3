// tally: counting parsed log lines (tally.hpp). Every container here grows
// by at most one entry per line and has a cap, so a hostile or huge log
// costs time, never unbounded memory.
#include "tally.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace postern::mailstats {

namespace {

constexpr std::size_t max_key_bytes = 200;
constexpr std::size_t max_messages = 100000;  // in flight at once
constexpr std::size_t max_slots = 200000;     // hours: about 22 years
constexpr std::size_t max_days = 100000;

std::uint64_t number(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 19) return 0;
  std::uint64_t v = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

// "12.5" seconds; nullopt for anything else.
std::optional<double> seconds(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 20) return std::nullopt;
  std::string s(*text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 || v > 1e10) return std::nullopt;
  return v;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool address_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '='; }

// Length of a run of digits and dots that looks like an IPv4 address at s.
std::size_t ipv4_at(std::string_view s) {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) ++i;
    if (i == start) return 0;
    if (part < 3) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i < s.size() && is_digit(s[i]) ? 0 : i;
}

// "5.1.1" (class 2, 4 or 5, then one to three digits twice) at s.
std::size_t dsn_at(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) ++i;
    if (i == start) return 0;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i < s.size() && (is_digit(s[i]) || s[i] == '.') ? 0 : i;
}

}  // namespace

void TopTable::add(std::string_view key, std::uint64_t bytes) {
  if (key.size() > max_key_bytes) key = key.substr(0, max_key_bytes);
  auto it = keys_.find(std::string(key));
  if (it == keys_.end()) {
    if (keys_.size() >= max_keys_) {
      ++left_out_.count;
      left_out_.bytes += bytes;
      return;
    }
    it = keys_.emplace(std::string(key), Counted{}).first;
  }
  ++it->second.count;
  it->second.bytes += bytes;
}

std::vector<std::pair<std::string, Counted>> TopTable::top(std::size_t n, bool by_bytes) const {
  std::vector<std::pair<std::string, Counted>> all(keys_.begin(), keys_.end());
  auto measure = [by_bytes](const Counted& c) { return by_bytes ? c.bytes : c.count; };
  auto better = [&](const auto& a, const auto& b) {
    if (measure(a.second) != measure(b.second)) return measure(a.second) > measure(b.second);
    return a.first < b.first;
  };
  if (all.size() > n) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), better);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), better);
  }
  return all;
}

namespace {

// c (in 1/100 s) at three significant digits.
std::int64_t coarse(std::int64_t c) {
  for (std::int64_t scale = 1; c >= 1000 * scale; scale *= 10)
    if (c < 10000 * scale) c = (c + 5 * scale) / (10 * scale) * (10 * scale);
  return c;
}

}  // namespace

void Delays::add(double seconds) {
  auto c = static_cast<std::int64_t>(std::llround(seconds * 100));
  ++buckets_[coarse_ ? coarse(c) : c];
  ++count_;
  max_ = std::max(max_, seconds);
  if (!coarse_ && buckets_.size() > max_exact) make_coarse();
}

void Delays::make_coarse() {
  std::map<std::int64_t, std::uint64_t> fewer;
  for (auto& [k, v] : buckets_) fewer[coarse(k)] += v;
  buckets_ = std::move(fewer);
  coarse_ = true;
}

void Delays::merge(const Delays& other) {
  for (auto& [k, v] : other.buckets_) buckets_[k] += v;
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  if (other.coarse_ || coarse_ || buckets_.size() > max_exact) make_coarse();
}

double Delays::percentile(double p) const {
  if (!count_) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (auto& [k, v] : buckets_) {
    seen += v;
    if (seen >= rank) return std::min(static_cast<double>(k) / 100.0, max_);
  }
  return max_;
}

std::string normalise_reason(std::string_view r) {
  std::string out;
  std::size_t i = 0;
  while (i < r.size() && out.size() < 120) {
    char c = r[i];
    std::string_view here = r.substr(i);
    if (c == '<') {  // <user@host> or <>
      auto close = here.find('>');
      if (close != std::string_view::npos && close < 400 &&
          (close == 1 || here.substr(0, close).find('@') != std::string_view::npos)) {
        out += "<ADDR>";
        i += close + 1;
        continue;
      }
    }
    if (address_char(c) && (i == 0 || !address_char(r[i - 1]))) {
      std::size_t j = 0;
      while (j < here.size() && address_char(here[j])) ++j;
      if (j < here.size() && here[j] == '@' && j + 1 < here.size() && address_char(here[j + 1])) {
        j += 1;
        while (j < here.size() && address_char(here[j])) ++j;
        out += "ADDR";
        i += j;
        continue;
      }
    }
    if (is_alnum(c) && !is_digit(c) && (i == 0 || !is_alnum(r[i - 1]))) {  // an id such as A1B2C3D4
      std::size_t n = 0, numerals = 0;
      for (; n < here.size() && is_alnum(here[n]); ++n) numerals += is_digit(here[n]);
      if (numerals && n >= 6) {
        out += "N";
        i += n;
        continue;
      }
    }
    if (is_digit(c) && (i == 0 || !is_alnum(r[i - 1]))) {
      if (auto n = ipv4_at(here)) {
        out += "IP";
        i += n;
        continue;
      }
      if (auto n = dsn_at(here)) {
        out += here.substr(0, n);
        i += n;
        continue;
      }
      std::size_t n = 0;
      while (n < here.size() && is_digit(here[n])) ++n;
      bool reply_code = out.empty() && n == 3;  // "550 ..." is what tells reasons apart
      if (n < here.size() && is_alnum(here[n])) {  // an id such as 3fa9c01
        while (n < here.size() && is_alnum(here[n])) ++n;
        reply_code = false;
      }
      out += reply_code ? std::string(here.substr(0, n)) : std::string("N");
      i += n;
      continue;
    }
    if (c == '[' && here.find(']') != std::string_view::npos && here.find(':') < here.find(']')) {
      out += "[IP]";  // an IPv6 literal
      i += here.find(']') + 1;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

std::string domain_of(std::string_view address) {
  if (address.starts_with('<')) address.remove_prefix(1);
  if (address.ends_with('>')) address.remove_suffix(1);
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string d(address.substr(at + 1));
  for (auto& ch : d)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return d;
}

std::uint64_t Tally::size_of(const std::string& msg) const {
  auto it = messages_.find(msg);
  return it == messages_.end() ? 0 : it->second.size;
}

void Tally::count_in_time(const LogLine& line, const Traffic& d, std::optional<double> delay) {
  if (!line.time) return;
  auto add = [&d](Traffic& t) {
    t.in.count += d.in.count;
    t.in.bytes += d.in.bytes;
    t.out.count += d.out.count;
    t.out.bytes += d.out.bytes;
    t.deferred += d.deferred;
    t.bounced += d.bounced;
    t.rejected += d.rejected;
  };
  auto t = static_cast<std::time_t>(std::floor(*line.time));
  std::tm tm{};
  if (!::localtime_r(&t, &tm)) return;
  int day = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
  if (days.size() < max_days || days.count(day)) add(days[day]);
  add(hours[static_cast<std::size_t>(tm.tm_hour)]);
  auto hour = static_cast<std::int64_t>(std::floor(*line.time / 3600));
  if (slots.size() >= max_slots && !slots.count(hour)) return;
  auto& slot = slots[hour];
  slot.in.count += d.in.count;
  slot.in.bytes += d.in.bytes;
  slot.out.count += d.out.count;
  slot.out.bytes += d.out.bytes;
  if (delay) slot.delays.add(*delay);
}

void Tally::add(const LogLine& line) {
  if (since || until) {
    if (!line.time || (since && *line.time < static_cast<double>(*since)) ||
        (until && *line.time >= static_cast<double>(*until))) {
      ++outside;
      return;
    }
  }
  ++counted;
  if (!line.time) {
    ++untimed;
  } else {
    if (!first || *line.time < *first) first = line.time;
    if (!last || *line.time > *last) last = line.time;
  }
  auto text = [&line](std::string_view key) { return std::string(line.get(key).value_or("")); };
  Traffic delta;
  std::optional<double> delay;
  switch (line.kind) {
    case LogLine::Kind::queued: {
      std::uint64_t size = number(line.get("size"));
      auto it = messages_.find(line.msg);
      if (it != messages_.end() && it->second.queued) {
        ++repeated;  // send started again and met the message anew: one message still
        return;
      }
      ++received.count;
      received.bytes += size;
      senders.add(text("from"), size);
      if (it == messages_.end() && messages_.size() < max_messages) it = messages_.emplace(line.msg, Message{}).first;
      if (it != messages_.end())
        it->second = {size, it->second.deferred, true};
      else
        ++untracked;
      delta.in = {1, size};
      break;
    }
    case LogLine::Kind::accepted: {
      std::uint64_t size = number(line.get("size"));
      ++accepted.count;
      accepted.bytes += size;
      clients.add(text("client"), size);
      break;
    }
    case LogLine::Kind::reject: {
      ++rejected;
      std::string reason = text("reason");
      if (reason.empty()) reason = text("code") + " " + text("dsn");
      reject_reasons.add(normalise_reason(reason));
      reject_clients.add(text("client"));
      delta.rejected = 1;
      break;
    }
    case LogLine::Kind::delivery: {
      std::string status = text("status"), to = text("to");
      bool remote = line.get("channel") == "remote";
      std::uint64_t size = size_of(line.msg);
      if (status == "sent") {
        delivered.count++;
        delivered.bytes += size;
        auto& channel = remote ? delivered_remote : delivered_local;
        channel.count++;
        channel.bytes += size;
        recipients.add(to, size);
        if (remote) domains.add(domain_of(to), size);
        sent_reasons.add(normalise_reason(text("reason")));
        delay = seconds(line.get("delay"));
        if (delay) (remote ? delays_remote : delays_local).add(*delay);
        delta.out = {1, size};
      } else if (status == "deferred") {
        ++deferred;
        auto it = messages_.find(line.msg);
        if (it == messages_.end() && messages_.size() < max_messages) it = messages_.emplace(line.msg, Message{}).first;
        if (it != messages_.end() && !it->second.deferred) {
          it->second.deferred = true;
          ++deferred_messages;
        }
        deferred_reasons.add(normalise_reason(text("reason")));
        if (remote) domains_deferred.add(domain_of(to));
        delta.deferred = 1;
      } else {
        ++bounced;
        bounced_reasons.add(normalise_reason(text("reason")));
        delta.bounced = 1;
      }
      break;
    }
    case LogLine::Kind::bounce:
      ++bounce_messages;
      break;
    case LogLine::Kind::end:
      messages_.erase(line.msg);
      break;
  }
  count_in_time(line, delta, delay);
}

}  // namespace postern::mailstats
