// dot_qmail: see dot_qmail.hpp.
#include "mail/dot_qmail.hpp"

#include "base/strings.hpp"

namespace postern::dot_qmail {

namespace {
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
}  // namespace

std::optional<std::vector<Candidate>> candidates(std::string_view dash, std::string_view ext) {
  if (ext.find('/') != std::string_view::npos || ext.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string safe = lower(ext);
  for (char& c : safe)
    if (c == '.') c = ':';

  std::vector<Candidate> out;
  std::string base = ".qmail" + std::string(dash);
  out.push_back({base + safe, std::nullopt});
  // A file literally named for an extension ending in "default" still sets
  // DEFAULT, as in qmail.
  if (safe.size() >= 7 && safe.compare(safe.size() - 7, 7, "default") == 0)
    out.back().default_part = std::string(ext.substr(safe.size() - 7));
  if (dash.empty()) return out;

  // Cut the extension after each '-', longest first, then at the start.
  for (std::size_t i = safe.size() + 1; i-- > 0;) {
    if (i != 0 && safe[i - 1] != '-') continue;
    std::string name = base + safe.substr(0, i) + "default";
    if (name == out.front().name) continue;  // ext "default" itself
    out.push_back({name, std::string(ext.substr(i))});
  }
  return out;
}

std::vector<Line> parse(std::string_view text) {
  std::vector<Line> out;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    char c = line.front();
    if (c == '|') {
      out.push_back({Kind::program, std::string(line.substr(1))});
    } else if (c == '/' || c == '.') {
      out.push_back({line.back() == '/' ? Kind::maildir : Kind::mbox, std::string(line)});
    } else if (c == '&') {
      out.push_back({Kind::forward, std::string(trim(line.substr(1)))});
    } else if (is_alnum(c)) {
      out.push_back({Kind::forward, std::string(line)});
    } else if (c == ' ' || c == '\t') {
      // "  &joe@example.org": indentation before a forward is harmless.
      std::string_view rest = trim(line);
      if (!rest.empty() && rest.front() == '&')
        out.push_back({Kind::forward, std::string(trim(rest.substr(1)))});
      else if (!rest.empty() && is_alnum(rest.front()))
        out.push_back({Kind::forward, std::string(rest)});
      else
        out.push_back({Kind::invalid, std::string(line)});
    } else {
      out.push_back({Kind::invalid, std::string(line)});
    }
  }
  return out;
}

std::string ext_part(std::string_view ext, int drop) {
  for (int i = 0; i < drop; ++i) {
    std::size_t dash = ext.find('-');
    ext = dash == std::string_view::npos ? std::string_view() : ext.substr(dash + 1);
  }
  return std::string(ext);
}

std::string host_part(std::string_view host, int drop) {
  for (int i = 0; i < drop; ++i) {
    std::size_t dot = host.rfind('.');
    if (dot == std::string_view::npos) break;
    host = host.substr(0, dot);
  }
  return std::string(host);
}

}  // namespace postern::dot_qmail
