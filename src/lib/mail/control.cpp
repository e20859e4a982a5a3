// control: see control.hpp.
#include "mail/control.hpp"

#include <cerrno>
#include <cstring>

#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/strings.hpp"

namespace postern::control {

std::optional<std::vector<std::string>> lines_of_file(const std::string& path) {
  errno = 0;
  auto text = read_file(path, 16 << 20);
  if (!text) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (auto& raw : split(*text, '\n')) {
    auto l = trim(raw);
    if (l.empty() || l.front() == '#') continue;
    out.emplace_back(l);
  }
  return out;
}

std::optional<std::vector<std::string>> lines(const std::string& name) {
  return lines_of_file(conf::path("control/" + name));
}

std::optional<std::string> line(const std::string& name, const std::string& fallback) {
  auto all = lines(name);
  if (!all) return std::nullopt;
  if (all->empty()) return fallback;
  return all->front();
}

std::optional<unsigned long> number(const std::string& name, unsigned long fallback) {
  auto l = line(name, "");
  if (!l) return std::nullopt;
  if (l->empty()) return fallback;
  return to_number(*l);
}

std::optional<std::vector<std::string>> lines(const std::string& name, std::string& why) {
  auto all = lines(name);
  if (!all) why = "unable to read control/" + name + ": " + std::strerror(errno);
  return all;
}

std::optional<std::string> line(const std::string& name, const std::string& fallback, std::string& why) {
  auto all = lines(name, why);
  if (!all) return std::nullopt;
  if (all->empty()) return fallback;
  return all->front();
}

std::optional<unsigned long> number(const std::string& name, unsigned long fallback, std::string& why) {
  auto l = line(name, "", why);
  if (!l) return std::nullopt;
  if (l->empty()) return fallback;
  auto n = to_number(*l);
  if (!n) why = "control/" + name + " holds \"" + l->substr(0, 100) + "\", which is not a number";
  return n;
}

}  // namespace postern::control
