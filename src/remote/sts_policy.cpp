// sts_policy: see sts_policy.hpp.
#include "sts_policy.hpp"

#include <cctype>

#include "base/strings.hpp"
#include "mail/dns_txt.hpp"

namespace postern::remote {

namespace {

// A host name or "*." and one: letters, digits, '-' and dots, no empty
// label; the trailing dot (a fully qualified name) is dropped.
std::optional<std::string> mx_pattern(std::string_view p) {
  std::string out = lower(std::string(p));
  if (!out.empty() && out.back() == '.') out.pop_back();
  std::string_view name = out;
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos)
    return std::nullopt;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return std::nullopt;
  return out;
}

}  // namespace

const char* mode_name(StsPolicy::Mode mode) {
  switch (mode) {
    case StsPolicy::Mode::none: return "none";
    case StsPolicy::Mode::testing: return "testing";
    case StsPolicy::Mode::enforce: return "enforce";
  }
  return "?";
}

std::optional<std::string> sts_record_id(std::string_view txt) {
  auto fields = dns_txt::tagged_fields(txt, "STSv1");
  if (!fields) return std::nullopt;
  std::optional<std::string> id;
  for (auto& [key, value] : *fields) {
    if (key != "id") continue;
    if (value.empty() || value.size() > 32) return std::nullopt;
    for (char c : value)
      if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    id = value;
  }
  return id;
}

std::optional<std::string> sts_id_of(const std::vector<std::string>& txts) {
  std::optional<std::string> id;
  int records = 0;
  for (auto& t : txts) {
    if (t.compare(0, 8, "v=STSv1;") != 0 && t != "v=STSv1") continue;
    ++records;
    id = sts_record_id(t);
  }
  if (records != 1) return std::nullopt;
  return id;
}

std::optional<StsPolicy> parse_sts_policy(std::string_view text) {
  if (text.size() > 64 * 1024) return std::nullopt;
  StsPolicy p;
  bool version = false, mode = false, age = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line = trim(line);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "version") {
      if (value != "STSv1") return std::nullopt;
      version = true;
    } else if (key == "mode") {
      if (value == "enforce") p.mode = StsPolicy::Mode::enforce;
      else if (value == "testing") p.mode = StsPolicy::Mode::testing;
      else if (value == "none") p.mode = StsPolicy::Mode::none;
      else return std::nullopt;
      mode = true;
    } else if (key == "max_age") {
      if (value.empty() || value.size() > 10) return std::nullopt;
      long n = 0;
      for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        n = n * 10 + (c - '0');
      }
      p.max_age = std::min(n, 31557600L);
      age = true;
    } else if (key == "mx") {
      auto pattern = mx_pattern(value);
      if (!pattern) return std::nullopt;
      if (p.mx.size() < 100) p.mx.push_back(*pattern);
    }
  }
  if (!version || !mode || !age) return std::nullopt;
  if (p.mode != StsPolicy::Mode::none && p.mx.empty()) return std::nullopt;
  return p;
}

bool sts_mx_matches(const StsPolicy& policy, std::string_view raw_host) {
  std::string host = lower(std::string(raw_host));
  if (!host.empty() && host.back() == '.') host.pop_back();
  for (auto& p : policy.mx) {
    if (p.compare(0, 2, "*.") == 0) {
      auto dot = host.find('.');
      if (dot != std::string::npos && dot > 0 && host.substr(dot + 1) == p.substr(2)) return true;
    } else if (host == p) {
      return true;
    }
  }
  return false;
}

}  // namespace postern::remote
