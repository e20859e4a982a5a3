// spawn_protocol: see spawn_protocol.hpp.
#include "mail/spawn_protocol.hpp"

#include "mail/address.hpp"
#include "base/log.hpp"
#include "mail/queue_dirs.hpp"
#include "base/strings.hpp"

namespace postern::spawn {

std::string encode(const Request& r) {
  std::string out = r.id;
  out += '\0';
  out += r.sender;
  out += '\0';
  for (auto& t : r.targets) {
    out += std::to_string(t.delnum);
    out += '\0';
    out += t.recipient;
    out += '\0';
  }
  out += '\n';
  return out;
}

std::string encode(const Report& r) {
  // The text is made printable and cut so the record stays atomic.
  std::string text = log::printable(r.text, 1000);
  return std::to_string(r.delnum) + '\0' + r.result + '\0' + text + '\n';
}

std::optional<Request> decode_request(std::string_view line) {
  if (line.size() > request_max || line.empty() || line.back() != '\n') return std::nullopt;
  line.remove_suffix(1);
  if (line.empty() || line.back() != '\0') return std::nullopt;
  line.remove_suffix(1);
  auto f = split(line, '\0');
  if (f.size() < 4 || f.size() % 2 != 0 || (f.size() - 2) / 2 > max_recipients) return std::nullopt;
  Request r{f[0], f[1], {}};
  if (!queue_dirs::valid_id(r.id) || !valid_envelope_address(r.sender)) return std::nullopt;
  for (std::size_t i = 2; i < f.size(); i += 2) {
    auto delnum = to_number(f[i]);
    if (!delnum || f[i + 1].empty() || !valid_envelope_address(f[i + 1])) return std::nullopt;
    r.targets.push_back({*delnum, f[i + 1]});
  }
  return r;
}

std::optional<Report> decode_report(std::string_view line) {
  if (line.size() > report_max || line.empty() || line.back() != '\n') return std::nullopt;
  line.remove_suffix(1);
  auto f = split(line, '\0');
  if (f.size() != 3 || f[1].size() != 1) return std::nullopt;
  auto delnum = to_number(f[0]);
  char result = f[1][0];
  if (!delnum || (result != 'K' && result != 'Z' && result != 'D')) return std::nullopt;
  return Report{*delnum, result, f[2]};
}

}  // namespace postern::spawn
