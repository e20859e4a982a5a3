// quota_limits: control/quotas and control/quotawarn (quota_limits.hpp).
#include "mail/quota_limits.hpp"

#include <charconv>
#include <cerrno>
#include <cstring>

#include "base/strings.hpp"
#include "mail/control.hpp"

namespace postern::quota_limits {

namespace {

std::optional<std::uint64_t> count(std::string_view s) {
  if (s == "-") return 0;
  std::uint64_t n = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || n > (std::uint64_t{1} << 50))
    return std::nullopt;
  return n;
}

bool part_ok(std::string_view n) {
  if (n.empty() || n.size() > 255 || n[0] == '.' || n[0] == '-') return false;
  for (char c : n)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == 0x7f) return false;
  return true;
}

// "user", "*", or "user/Folder" (a folder root).
bool name_ok(std::string_view n) {
  if (n == "*") return true;
  auto slash = n.find('/');
  if (slash == std::string_view::npos) return part_ok(n);
  return part_ok(n.substr(0, slash)) && part_ok(n.substr(slash + 1));
}

}  // namespace

std::optional<std::uint64_t> parse_storage(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t unit = 1;
  switch (s.back()) {
    case 'K': case 'k': unit = 1ULL << 10; break;
    case 'M': case 'm': unit = 1ULL << 20; break;
    case 'G': case 'g': unit = 1ULL << 30; break;
    case 'T': case 't': unit = 1ULL << 40; break;
    default: break;
  }
  if (unit != 1) s.remove_suffix(1);
  auto n = count(s);
  if (!n || *n > (std::uint64_t{1} << 50) / unit) return std::nullopt;
  return *n * unit;
}

std::optional<Entry> parse_line(std::string_view line) {
  std::vector<std::string> w;
  for (auto& part : split(line, ' '))
    for (auto& p : split(part, '\t'))
      if (!p.empty()) w.push_back(p);
  if (w.size() != 3 || !name_ok(w[0])) return std::nullopt;
  auto bytes = parse_storage(w[1]);
  auto messages = count(w[2]);
  if (!bytes || !messages) return std::nullopt;
  return Entry{w[0], {*bytes, *messages}};
}

std::string format_line(const Entry& e) {
  return e.name + " " + std::to_string(e.limits.bytes) + " " + std::to_string(e.limits.messages);
}

std::optional<maildir_quota::Limits> for_user(std::string_view user, std::string& why) {
  auto lines = control::lines("quotas", why);
  if (!lines) return std::nullopt;
  std::optional<maildir_quota::Limits> fallback;
  for (const auto& l : *lines) {
    auto e = parse_line(l);
    if (!e) {
      why = "control/quotas: a line is not \"name storage messages\": " + l;
      continue;
    }
    if (e->name == user) return e->limits;
    if (e->name == "*" && !fallback) fallback = e->limits;
  }
  return fallback.value_or(maildir_quota::Limits{});
}

std::optional<maildir_quota::Limits> for_folder(std::string_view user, std::string_view folder, std::string& why) {
  if (folder.empty() || folder == "INBOX") return std::nullopt;
  auto lines = control::lines("quotas", why);
  if (!lines) return std::nullopt;
  std::string key = std::string(user) + "/" + std::string(folder);
  for (const auto& l : *lines)
    if (auto e = parse_line(l); e && e->name == key && e->limits.any()) return e->limits;
  return std::nullopt;
}

unsigned warn_percent() {
  auto n = control::number("quotawarn", 90);
  if (!n || *n > 100) return 90;
  return static_cast<unsigned>(*n);
}

bool crossed(const maildir_quota::Limits& l, const maildir_quota::Usage& before, const maildir_quota::Usage& after,
             unsigned percent) {
  if (percent == 0) return false;
  auto over = [&](std::uint64_t limit, std::int64_t used) {
    return limit != 0 && used > 0 && static_cast<unsigned __int128>(used) * 100 >= static_cast<unsigned __int128>(limit) * percent;
  };
  return (!over(l.bytes, before.bytes) && over(l.bytes, after.bytes)) ||
         (!over(l.messages, before.messages) && over(l.messages, after.messages));
}

}  // namespace postern::quota_limits
