// aliases: see aliases.hpp.
#include "mail/aliases.hpp"

#include "mail/address.hpp"
#include "base/strings.hpp"

namespace postern::aliases {

namespace {

// The name before the first unquoted colon; npos when there is none.
std::size_t name_end(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    else if (line[i] == ':' && !quoted) return i;
  }
  return std::string_view::npos;
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

}  // namespace

std::vector<std::string> split_targets(std::string_view list, std::string& why) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  auto flush = [&]() {
    std::string t = unquote(cur);
    if (t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
    if (!t.empty()) out.push_back(t);
    cur.clear();
  };
  for (char c : list) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      flush();
      continue;
    }
    cur += c;
  }
  if (quoted) {
    why = "an unterminated quote";
    return {};
  }
  flush();
  for (auto& t : out) {
    if (has_control(t)) {
      why = "a control character in a target";
      return {};
    }
    if (kind_of(t) == Kind::address && !valid_envelope_address(t)) {
      why = "not a valid address: " + t;
      return {};
    }
  }
  return out;
}

Kind kind_of(std::string_view t) {
  if (!t.empty() && t.front() == '|') return Kind::program;
  if (!t.empty() && t.front() == '/') return Kind::file;
  if (t.size() > 9 && lower(t.substr(0, 9)) == ":include:") return Kind::include;
  if (!t.empty() && t.front() == '\\') return Kind::local_only;
  return Kind::address;
}

std::vector<Entry> parse(std::string_view text, std::vector<Error>& errors) {
  std::vector<Entry> entries;
  // Logical lines first: continuation lines join the line before them.
  struct Logical {
    std::string text;
    int line;
  };
  std::vector<Logical> logical;
  int number = 0;
  for (auto& raw : split(text, '\n')) {
    ++number;
    std::string_view l = chomp(raw);
    if (trim(l).empty() || trim(l).front() == '#') continue;
    if (l.front() == ' ' || l.front() == '\t') {
      if (logical.empty()) {
        errors.push_back({number, "a continuation line with nothing to continue"});
        continue;
      }
      logical.back().text += " ";
      logical.back().text += trim(l);
      continue;
    }
    logical.push_back({std::string(l), number});
  }
  for (auto& [line, n] : logical) {
    auto colon = name_end(line);
    if (colon == std::string::npos) {
      errors.push_back({n, "no colon after the alias name"});
      continue;
    }
    Entry e;
    e.line = n;
    e.name = lower(unquote(line.substr(0, colon)));
    if (e.name.empty() || has_control(e.name) || e.name.find('@') != std::string::npos) {
      errors.push_back({n, "a missing or malformed alias name"});
      continue;
    }
    std::string why;
    e.targets = split_targets(std::string_view(line).substr(colon + 1), why);
    if (!why.empty()) {
      errors.push_back({n, why});
      continue;
    }
    if (e.targets.empty()) {
      errors.push_back({n, "no targets for " + e.name});
      continue;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

std::string encode_targets(const std::vector<std::string>& targets) {
  std::string out;
  for (auto& t : targets) {
    out += t;
    out += '\0';
  }
  return out;
}

std::vector<std::string> decode_targets(std::string_view value) {
  std::vector<std::string> out;
  if (!value.empty() && value.back() == '\0') value.remove_suffix(1);
  if (value.empty()) return out;
  return split(value, '\0');
}

}  // namespace postern::aliases
