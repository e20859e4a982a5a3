// report: the sections of the traffic report, built from a Tally
// (report.hpp). The order follows pflogsumm's, which administrators know:
// totals, traffic over time, delays, the tops, the reasons, then notes.
#include "report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace postern::mailstats {

namespace {

std::string num(std::uint64_t n) { return std::to_string(n); }

std::string local_time(double t, const char* format) {
  auto s = static_cast<std::time_t>(std::floor(t));
  std::tm tm{};
  char buf[64] = "";
  if (::localtime_r(&s, &tm)) std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::vector<std::string> traffic_row(std::string label, const Traffic& t) {
  return {std::move(label), num(t.in.count), num(t.in.bytes), num(t.out.count), num(t.out.bytes),
          num(t.deferred), num(t.bounced), num(t.rejected)};
}

const std::vector<std::string> traffic_header = {"", "received", "bytes", "delivered", "bytes", "deferred",
                                                 "bounced", "rejected"};

Section top_section(std::string title, std::string what, std::string count_name, const TopTable& table,
                    std::size_t n, bool with_bytes, bool by_bytes = false) {
  Section s{std::move(title), {std::move(what), std::move(count_name)}, {}};
  if (with_bytes) s.header.push_back("bytes");
  for (auto& [key, c] : table.top(n, by_bytes)) {
    std::vector<std::string> row = {key.empty() ? "(none)" : key, num(c.count)};
    if (with_bytes) row.push_back(num(c.bytes));
    s.rows.push_back(std::move(row));
  }
  return s;
}

std::vector<std::string> delay_row(std::string what, const Delays& d) {
  if (!d.count()) return {std::move(what), "0", "-", "-", "-", "-"};
  return {std::move(what), num(d.count()), format_seconds(d.percentile(50)), format_seconds(d.percentile(90)),
          format_seconds(d.percentile(99)), format_seconds(d.max())};
}

ChartPoint point(std::string label, const Tally::Slot& s) {
  ChartPoint p{std::move(label), s.in.count, s.out.count, s.delays.count() > 0, 0, 0, 0};
  if (p.has_delays) {
    p.p50 = s.delays.percentile(50);
    p.p90 = s.delays.percentile(90);
    p.p99 = s.delays.percentile(99);
  }
  return p;
}

// Hours when the log spans three days at most (every hour, empty ones
// too), else days.
void build_chart(const Tally& tally, Report& r) {
  if (tally.slots.empty()) return;
  auto first = tally.slots.begin()->first, last = tally.slots.rbegin()->first;
  if (last - first < 72) {
    for (auto h = first; h <= last; ++h) {
      auto it = tally.slots.find(h);
      r.chart.push_back(point(local_time(static_cast<double>(h) * 3600, "%m-%d %H:00"),
                              it == tally.slots.end() ? Tally::Slot{} : it->second));
    }
    return;
  }
  r.chart_by_day = true;
  std::string day;
  Tally::Slot sum;
  for (auto& [h, slot] : tally.slots) {
    auto label = local_time(static_cast<double>(h) * 3600, "%Y-%m-%d");
    if (label != day && !day.empty()) {
      r.chart.push_back(point(day, sum));
      sum = {};
    }
    day = label;
    sum.in.count += slot.in.count;
    sum.out.count += slot.out.count;
    sum.delays.merge(slot.delays);
  }
  r.chart.push_back(point(day, sum));
}

void add_notes(const Tally& t, Report& r) {
  r.notes.push_back(fmt::format("{} lines read, {} counted", t.lines + t.too_long, t.counted));
  if (t.other) r.notes.push_back(fmt::format("{} other lines ignored (not lines this report counts)", t.other));
  if (t.malformed) r.notes.push_back(fmt::format("{} malformed lines skipped", t.malformed));
  if (t.too_long) r.notes.push_back(fmt::format("{} lines longer than 64 KB skipped", t.too_long));
  if (t.outside) r.notes.push_back(fmt::format("{} lines outside --since/--until (or without a time) left out", t.outside));
  if (t.untimed)
    r.notes.push_back(fmt::format("{} lines without a timestamp: counted in the totals, not in the per-day "
                                  "and per-hour tables",
                                  t.untimed));
  if (t.repeated)
    r.notes.push_back(fmt::format("{} repeated new lines of messages already queued (send started again) "
                                  "not counted again",
                                  t.repeated));
  if (t.untracked)
    r.notes.push_back(fmt::format("{} messages not followed (more than 100000 in the queue at once): their "
                                  "deliveries count no bytes",
                                  t.untracked));
  const std::pair<const char*, const TopTable*> tables[] = {
      {"senders", &t.senders},           {"recipients", &t.recipients},         {"domains", &t.domains},
      {"deferred domains", &t.domains_deferred}, {"client hosts", &t.clients}, {"rejected hosts", &t.reject_clients},
      {"delivery reasons", &t.sent_reasons}, {"deferral reasons", &t.deferred_reasons},
      {"bounce reasons", &t.bounced_reasons}, {"reject reasons", &t.reject_reasons}};
  for (auto& [name, table] : tables)
    if (table->truncated())
      r.notes.push_back(fmt::format("the {} table was truncated at {} keys: {} more lines were not counted in it",
                                    name, table->size(), table->left_out().count));
}

}  // namespace

std::string format_seconds(double s) {
  auto text = fmt::format("{:.2f}", s);
  while (text.ends_with('0')) text.pop_back();
  if (text.ends_with('.')) text.pop_back();
  return text;
}

Report build_report(const Tally& t, std::size_t top) {
  Report r;
  r.title = "postern traffic report";
  if (t.first && t.last)
    r.title += ", " + local_time(*t.first, "%Y-%m-%d %H:%M:%S") + " to " + local_time(*t.last, "%Y-%m-%d %H:%M:%S");

  std::uint64_t other_in = t.received.count > t.accepted.count ? t.received.count - t.accepted.count : 0;
  Section totals{"Grand totals", {"total", "messages", "bytes"}, {}};
  totals.rows = {
      {"received", num(t.received.count), num(t.received.bytes)},
      {"  by smtpd", num(t.accepted.count), num(t.accepted.bytes)},
      {"  injected here (sendmail, inject, bounces)", num(other_in), ""},
      {"delivered", num(t.delivered.count), num(t.delivered.bytes)},
      {"  locally", num(t.delivered_local.count), num(t.delivered_local.bytes)},
      {"  remotely", num(t.delivered_remote.count), num(t.delivered_remote.bytes)},
      {"deferred (attempts)", num(t.deferred), ""},
      {"  messages deferred", num(t.deferred_messages), ""},
      {"bounced (recipients)", num(t.bounced), ""},
      {"  bounce messages sent", num(t.bounce_messages), ""},
      {"rejected (SMTP)", num(t.rejected), ""},
      {"senders", num(t.senders.size()), ""},
      {"recipients", num(t.recipients.size()), ""},
      {"client hosts", num(t.clients.size()), ""},
  };
  r.sections.push_back(std::move(totals));

  Section days{"Per-day traffic", traffic_header, {}};
  days.header[0] = "date";
  for (auto& [d, traffic] : t.days)
    days.rows.push_back(traffic_row(fmt::format("{:04}-{:02}-{:02}", d / 10000, d / 100 % 100, d % 100), traffic));
  r.sections.push_back(std::move(days));

  Section hours{"Per-hour traffic (hour of day, all days)", traffic_header, {}};
  hours.header[0] = "hour";
  if (!t.days.empty())
    for (int h = 0; h < 24; ++h)
      hours.rows.push_back(traffic_row(fmt::format("{:02}:00-{:02}:00", h, (h + 1) % 24),
                                       t.hours[static_cast<std::size_t>(h)]));
  r.sections.push_back(std::move(hours));

  Section delays{"Delivery delays (seconds, from queueing to delivery)", {"channel", "deliveries", "50%", "90%", "99%", "max"}, {}};
  Delays all = t.delays_local;
  all.merge(t.delays_remote);
  delays.rows = {delay_row("local", t.delays_local), delay_row("remote", t.delays_remote), delay_row("all", all)};
  r.sections.push_back(std::move(delays));

  auto n = std::to_string(top);
  r.sections.push_back(top_section("Top " + n + " senders", "sender", "messages", t.senders, top, true));
  r.sections.push_back(top_section("Top " + n + " recipients", "recipient", "delivered", t.recipients, top, true));
  r.sections.push_back(top_section("Top " + n + " remote domains by deliveries", "domain", "delivered", t.domains, top, true));
  r.sections.push_back(top_section("Top " + n + " remote domains by bytes", "domain", "delivered", t.domains, top, true, true));
  r.sections.push_back(top_section("Top " + n + " remote domains deferred", "domain", "deferrals", t.domains_deferred, top, false));
  r.sections.push_back(top_section("Top " + n + " client hosts", "client", "messages", t.clients, top, true));
  r.sections.push_back(top_section("Top " + n + " rejected client hosts", "client", "rejects", t.reject_clients, top, false));
  r.sections.push_back(top_section("Deliveries by reason", "reason", "count", t.sent_reasons, top, false));
  r.sections.push_back(top_section("Deferrals by reason", "reason", "count", t.deferred_reasons, top, false));
  r.sections.push_back(top_section("Bounces by reason", "reason", "count", t.bounced_reasons, top, false));
  r.sections.push_back(top_section("SMTP rejects by reason", "reason", "count", t.reject_reasons, top, false));
  build_chart(t, r);
  add_notes(t, r);
  return r;
}

}  // namespace postern::mailstats
