// queue_state: see queue_state.hpp.
#include "mail/queue_state.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <climits>
#include <limits>

#include "base/date.hpp"
#include "base/io.hpp"
#include "mail/address.hpp"
#include "mail/envelope.hpp"
#include "mail/queue_dirs.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"

namespace postern {

static constexpr std::string_view magic = "postern-state 2";
// Records written before the end line came; read as they always were.
static constexpr std::string_view magic_v1 = "postern-state 1";
// Times and counts past these would wrap to negative times (which
// encode_state writes and decode_state then refuses) or small counts.
static constexpr unsigned long max_time = static_cast<unsigned long>(std::numeric_limits<std::time_t>::max());

std::string encode_state(const MessageState& m) {
  std::string out = fmt::format("{}\nF\t{}\nA\t{}\n", magic, m.sender, m.arrived);
  if (m.held()) out += fmt::format("H\t{}\n", m.held_by);
  if (!m.deleted_by.empty()) out += fmt::format("K\t{}\n", m.deleted_by);
  for (auto& r : m.recipients) {
    std::string reason = log::printable(r.reason, 1000);
    for (char& c : reason)
      if (c == '\t') c = ' ';
    out += fmt::format("R\t{}{}\t{}\t{}\t{}\t{}\n", r.channel, r.state, r.attempts, r.next_try, r.address, reason);
  }
  // The record is written without a sync: after a power cut it may be a
  // prefix of itself, which must not read as a record with fewer recipients.
  out += fmt::format("E\t{}\n", m.recipients.size());
  return out;
}

std::optional<MessageState> decode_state(std::string_view text) {
  auto lines = split(text, '\n');
  if (lines.size() < 4 || (lines[0] != magic && lines[0] != magic_v1) || !lines.back().empty()) return std::nullopt;
  lines.pop_back();
  if (lines[0] == magic) {
    auto end = split(lines.back(), '\t');
    auto count = end.size() == 2 && end[0] == "E" ? to_number(end[1]) : std::nullopt;
    std::size_t r_lines = 0;
    for (auto& l : lines) r_lines += l.starts_with("R\t");
    if (!count || *count != r_lines) return std::nullopt;
    lines.pop_back();
  }
  MessageState m;
  bool have_sender = false, have_arrival = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = split(lines[i], '\t');
    if (f[0] == "F" && f.size() == 2 && valid_envelope_address(f[1])) {
      m.sender = f[1];
      have_sender = true;
    } else if (f[0] == "A" && f.size() == 2 && to_number(f[1]) && *to_number(f[1]) <= max_time) {
      m.arrived = static_cast<std::time_t>(*to_number(f[1]));
      have_arrival = true;
    } else if (f[0] == "H" && f.size() == 2 && !f[1].empty() && !m.held() && queue_dirs::valid_id(f[1])) {
      m.held_by = f[1];
    } else if (f[0] == "K" && f.size() == 2 && !f[1].empty() && m.deleted_by.empty() && queue_dirs::valid_id(f[1])) {
      m.deleted_by = f[1];
    } else if (f[0] == "R" && f.size() == 6 && f[1].size() == 2) {
      RecipientState r;
      r.channel = f[1][0];
      r.state = f[1][1];
      auto attempts = to_number(f[2]);
      auto next = to_number(f[3]);
      if ((r.channel != 'L' && r.channel != 'R') || std::string_view("PDBX").find(r.state) == std::string_view::npos ||
          !attempts || *attempts > UINT_MAX || !next || *next > max_time || f[4].empty() ||
          !valid_envelope_address(f[4]))
        return std::nullopt;
      r.attempts = static_cast<unsigned>(*attempts);
      r.next_try = static_cast<std::time_t>(*next);
      r.address = f[4];
      r.reason = f[5];
      m.recipients.push_back(std::move(r));
    } else {
      return std::nullopt;
    }
  }
  if (!have_sender || !have_arrival || m.recipients.empty()) return std::nullopt;
  return m;
}

std::optional<QueuedMessage> read_queued(const std::string& id) {
  QueuedMessage q;
  if (auto text = read_file(queue_dirs::state(id), 64 << 20)) {
    if (auto st = decode_state(*text)) {
      q.state = std::move(*st);
      q.seen_by_send = true;
      return q;
    }
  }
  auto bytes = read_file(queue_dirs::todo(id), 64 << 20);
  auto env = bytes ? decode_envelope(*bytes) : std::nullopt;
  if (!env) return std::nullopt;  // finished while we looked
  struct stat st {};
  q.state.arrived = ::stat(queue_dirs::todo(id).c_str(), &st) == 0 ? st.st_mtime : 0;
  q.state.sender = env->sender;
  q.state.held_by = env->hold;
  for (auto& r : env->recipients) q.state.recipients.push_back(RecipientState{r, '?', 'P', 0, 0, ""});
  return q;
}

std::string describe_recipient(const RecipientState& r) {
  switch (r.state) {
    case 'D': return "delivered";
    case 'B': return "failed, bounce pending";
    case 'X': return "failed";
    default: break;
  }
  if (r.attempts == 0) return "pending, not tried yet";
  return fmt::format("pending, {} attempt{}, next attempt {}", r.attempts, r.attempts == 1 ? "" : "s",
                     rfc5322_date(r.next_try));
}

}  // namespace postern
