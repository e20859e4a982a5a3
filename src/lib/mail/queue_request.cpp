// queue_request: see queue_request.hpp.
#include "mail/queue_request.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/queue_dirs.hpp"

namespace postern::queue_request {

namespace {

constexpr std::string_view magic = "postern-request 1";
constexpr std::size_t max_line = 1100;
constexpr std::string_view hex = "0123456789abcdef";

std::string domain_of(const std::string& address) { return lower(split_address(address).domain); }

}  // namespace

bool valid_selector(const Selector& s) {
  switch (s.kind) {
    case 'a': return s.value.empty();
    case 'i': return queue_dirs::valid_id(s.value);
    case 'r': return !s.value.empty() && valid_envelope_address(s.value);
    case 's': return s.value == "<>" || valid_envelope_address(s.value);
    case 'd':
      if (s.value.empty() || s.value.size() > 255) return false;
      for (unsigned char c : s.value)
        if (c <= ' ' || c >= 0x7f || c == '@') return false;
      return true;
    default: return false;
  }
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::hold: return "hold";
    case Action::release: return "release";
    case Action::requeue: return "requeue";
    case Action::remove: return "delete";
    case Action::flush: return "flush";
  }
  return "flush";
}

std::optional<Action> action_from_name(std::string_view name) {
  for (Action a : {Action::hold, Action::release, Action::requeue, Action::remove, Action::flush})
    if (action_name(a) == name) return a;
  return std::nullopt;
}

std::string encode(const Request& r) {
  std::string out = std::string(magic) + "\n";
  for (auto& s : r.selectors) out += std::string(action_name(r.action)) + "\t" + s.kind + "\t" + s.value + "\n";
  // As in send's record: a prefix of a request is never a shorter request.
  return out + "E\t" + std::to_string(r.selectors.size()) + "\n";
}

std::optional<Request> decode(std::string_view text) {
  auto lines = split(text, '\n');
  // A request ends with its last line's newline: anything else is torn.
  if (lines.size() < 4 || lines[0] != magic || !lines.back().empty()) return std::nullopt;
  lines.pop_back();
  if (lines.back() != "E\t" + std::to_string(lines.size() - 2)) return std::nullopt;
  lines.pop_back();
  Request r;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = split(lines[i], '\t');
    if (f.size() != 3 || f[1].size() != 1) return std::nullopt;
    auto action = action_from_name(f[0]);
    if (!action || (i > 1 && *action != r.action)) return std::nullopt;
    r.action = *action;
    Selector s{f[1][0], f[2]};
    if (!valid_selector(s)) return std::nullopt;
    r.selectors.push_back(std::move(s));
  }
  return r;
}

bool matches(const Selector& s, const std::string& id, const MessageState& m) {
  switch (s.kind) {
    case 'a': return true;
    case 'i': return id == s.value;
    case 's': return lower(m.sender) == lower(s.value == "<>" ? "" : s.value);
    case 'r':
    case 'd':
      for (auto& r : m.recipients)
        if (names_recipient(s, r)) return true;
      return false;
    default: return false;
  }
}

bool names_recipient(const Selector& s, const RecipientState& r) {
  if (s.kind == 'r') return lower(r.address) == lower(s.value);
  if (s.kind == 'd') return domain_of(r.address) == lower(s.value);
  return true;
}

std::string flush_line(const Selector& s) {
  std::string out = "q";
  out += s.kind;
  for (unsigned char c : s.value) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out + "\n";
}

void FlushReader::feed(const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (!in_line_) {
      // Outside a line every byte is a poke (or 'R'), handled by the caller.
      if (c == 'q') {
        in_line_ = true;
        line_.clear();
      }
      continue;
    }
    if (c != '\n') {
      if (line_.size() <= 2 * max_line) line_ += c;
      continue;
    }
    in_line_ = false;
    if (line_.empty() || line_.size() % 2 != 1 || line_.size() > 2 * max_line) continue;
    Selector s{line_[0], {}};
    bool ok = true;
    for (std::size_t k = 1; k + 1 < line_.size() && ok; k += 2) {
      auto hi = hex.find(line_[k]), lo = hex.find(line_[k + 1]);
      ok = hi != std::string_view::npos && lo != std::string_view::npos;
      if (ok) s.value += static_cast<char>(hi * 16 + lo);
    }
    if (ok && s.kind != 'a' && valid_selector(s)) done_.push_back(std::move(s));
  }
}

std::vector<Selector> FlushReader::take() {
  std::vector<Selector> out;
  out.swap(done_);
  return out;
}

bool poke_flush(const Selector& s) {
  int fd = ::open(queue_dirs::trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  // One write of less than PIPE_BUF bytes: never interleaved with another.
  std::string line = flush_line(s);
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  return ok;
}

}  // namespace postern::queue_request
