// imap_modseq: see imap_modseq.hpp.
#include "imap/imap_modseq.hpp"

#include <fmt/format.h>

namespace postern::imap {

namespace {

std::optional<std::uint64_t> num(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

// MODSEQs stay below 2^63 (RFC 7162's mod-sequence-value).
constexpr std::uint64_t max_modseq = (1ULL << 63) - 1;

bool clean_flags(std::string_view f) {
  if (f.size() > 64) return false;
  for (char c : f)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '/') return false;
  return true;
}

}  // namespace

std::string_view info_of(std::string_view name) {
  auto c = name.find(":2,");
  return c == std::string_view::npos ? std::string_view{} : name.substr(c + 3);
}

std::optional<ModState> parse_state(std::string_view text) {
  ModState s;
  std::size_t pos = 0;
  bool header = true;
  while (pos < text.size()) {
    std::size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) break;  // torn: not counted as read
    std::string_view line = text.substr(pos, e - pos);
    pos = e + 1;
    s.good_bytes = pos;
    ++s.lines;
    if (header) {
      header = false;
      if (!line.starts_with("P1 ")) return std::nullopt;
      std::string_view rest = line.substr(3);
      while (!rest.empty()) {
        auto sp = rest.find(' ');
        std::string_view tok = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        if (tok.size() < 2) continue;
        if (tok[0] == 'V') {
          if (auto v = num(tok.substr(1), 0xffffffffu)) s.validity = static_cast<std::uint32_t>(*v);
        } else if (tok[0] == 'H') {
          if (auto v = num(tok.substr(1), max_modseq)) s.highest = *v;
        } else if (tok[0] == 'E') {
          if (auto v = num(tok.substr(1), max_modseq)) s.history_from = *v;
        }
      }
      if (s.validity == 0) return std::nullopt;
      continue;
    }
    if (line.empty()) continue;
    char kind = line[0];
    std::string_view rest = line.substr(1);
    auto sp = rest.find(' ');
    auto uid = num(rest.substr(0, sp), 0xfffffffeu);
    if (!uid || *uid == 0) continue;
    auto u = static_cast<std::uint32_t>(*uid);
    if (kind == 'R') {
      if (sp == std::string_view::npos && u > s.recent_from) s.recent_from = u;
      continue;
    }
    if (sp == std::string_view::npos) continue;
    rest = rest.substr(sp + 1);
    if (kind == 'X') {
      auto m = num(rest, max_modseq);
      if (!m) continue;
      s.msgs.erase(u);
      s.expunged.emplace_back(u, *m);
      if (*m > s.highest) s.highest = *m;
    } else if (kind == 'M') {
      // <modseq> <vsize> :<flags>
      auto sp2 = rest.find(' ');
      if (sp2 == std::string_view::npos) continue;
      auto m = num(rest.substr(0, sp2), max_modseq);
      std::string_view r2 = rest.substr(sp2 + 1);
      auto sp3 = r2.find(' ');
      if (!m || sp3 == std::string_view::npos) continue;
      auto v = num(r2.substr(0, sp3), 1ULL << 62);
      std::string_view f = r2.substr(sp3 + 1);
      if (!v || f.empty() || f[0] != ':' || !clean_flags(f.substr(1))) continue;
      s.msgs[u] = MsgState{*m, *v, std::string(f.substr(1))};
      if (*m > s.highest) s.highest = *m;
    }
  }
  if (header) return std::nullopt;
  return s;
}

std::string state_msg_line(std::uint32_t uid, const MsgState& m) {
  return fmt::format("M{} {} {} :{}\n", uid, m.modseq, m.vsize, m.flags);
}

std::string state_expunge_line(std::uint32_t uid, std::uint64_t modseq) { return fmt::format("X{} {}\n", uid, modseq); }

std::string state_recent_line(std::uint32_t uid) { return fmt::format("R{}\n", uid); }

std::string format_state(const ModState& s) {
  std::string text = fmt::format("P1 V{} H{}", s.validity, s.highest);
  text += s.history_from ? fmt::format(" E{}\n", s.history_from) : "\n";
  text.reserve(s.msgs.size() * 40 + s.expunged.size() * 20 + 64);
  text += state_recent_line(s.recent_from);
  // Expunges first: a UID that came back after one (a file restored from
  // a backup) must stay a message when the file is read again.
  for (auto& [uid, m] : s.expunged) text += state_expunge_line(uid, m);
  for (auto& [uid, m] : s.msgs) text += state_msg_line(uid, m);
  return text;
}

}  // namespace postern::imap
