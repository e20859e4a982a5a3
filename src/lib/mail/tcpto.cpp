// tcpto: see tcpto.hpp. One small file per address: nothing to lock, and
// each remote updates only the addresses it tried.
#include "mail/tcpto.hpp"

#include <dirent.h>
#include <cctype>
#include <unistd.h>

#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/strings.hpp"

namespace postern::tcpto {

namespace {

// Addresses are IPv4 or IPv6 text: only these characters reach a path.
bool safe(const std::string& address) {
  if (address.empty() || address.size() > 64) return false;
  for (char c : address)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.' && c != ':') return false;
  return true;
}

}  // namespace

std::string dir() { return conf::path("queue/tcpto"); }

bool recently_timed_out(const std::string& address, std::time_t now) {
  if (!safe(address)) return false;
  auto text = read_file(dir() + "/" + address, 64);
  if (!text) return false;
  auto when = to_number(trim(*text));
  return when && now - static_cast<std::time_t>(*when) < remember;
}

void record_timeout(const std::string& address, std::time_t now) {
  if (safe(address)) write_file_atomic(dir() + "/" + address, std::to_string(now) + "\n", 0644, false);
}

void forget(const std::string& address) {
  if (safe(address)) ::unlink((dir() + "/" + address).c_str());
}

std::vector<std::pair<std::string, std::time_t>> list() {
  std::vector<std::pair<std::string, std::time_t>> out;
  DIR* d = ::opendir(dir().c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!safe(name)) continue;
    auto text = read_file(dir() + "/" + name, 64);
    auto when = text ? to_number(trim(*text)) : std::nullopt;
    if (when) out.emplace_back(name, static_cast<std::time_t>(*when));
  }
  ::closedir(d);
  return out;
}

}  // namespace postern::tcpto
