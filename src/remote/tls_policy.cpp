// tls_policy: see tls_policy.hpp.
//
// A malformed line defers every domain's mail rather than only the line's:
// an admin who mistyped "verfy" for a bank meant more protection, and the
// lookup cannot tell which domain the broken line was meant for, so no
// mail goes out under a weaker policy than the one intended.
#include "tls_policy.hpp"

#include <cctype>

#include "base/strings.hpp"
#include "mail/control.hpp"

namespace postern::remote {

const char* level_name(TlsLevel level) {
  switch (level) {
    case TlsLevel::none: return "none";
    case TlsLevel::may: return "may";
    case TlsLevel::dane: return "dane";
    case TlsLevel::encrypt: return "encrypt";
    case TlsLevel::verify: return "verify";
    case TlsLevel::secure: return "secure";
  }
  return "?";
}

namespace {

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

bool parse_level(const std::string& word, TlsLevel& level) {
  std::string w = lower(word);
  for (TlsLevel l : {TlsLevel::none, TlsLevel::may, TlsLevel::dane, TlsLevel::encrypt, TlsLevel::verify, TlsLevel::secure}) {
    if (w == level_name(l)) {
      level = l;
      return true;
    }
  }
  return false;
}

// A name in match=: letters, digits, '-', '_' and dots (a leading one for
// "any name under"); no '*' or other byte that could widen a match.
bool good_name(const std::string& name) {
  if (name.empty() || name.size() > 253 || name == "." || name.find("..") != std::string::npos) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

}  // namespace

TlsPolicyLookup tls_policy_from_lines(const std::vector<std::string>& lines, const std::string& domain) {
  TlsPolicyLookup out;
  // How well the chosen line matches: 0 none yet, 1 default, 2 + suffix
  // length for a suffix, and the most for the exact domain.
  std::size_t best = 0;
  const std::size_t exact = 1000;
  int number = 0;
  for (auto& raw : lines) {
    ++number;
    std::string where = "control/tlspolicy line " + std::to_string(number);
    auto bad = [&](const std::string& what) {
      TlsPolicyLookup b;
      b.ok = false;
      b.why = "The TLS policy cannot be read: " + where + " " + what + ". (#4.3.5)";
      return b;
    };
    auto f = fields(raw);
    if (f.size() < 2) return bad("has no level");
    TlsPolicy p;
    p.source = where;
    if (!parse_level(f[1], p.level)) return bad("has an unknown level '" + f[1] + "'");
    for (std::size_t i = 2; i < f.size(); ++i) {
      std::string opt = f[i];
      if (lower(opt.substr(0, 6)) != "match=") return bad("has an unknown option '" + opt + "'");
      if (p.level != TlsLevel::verify && p.level != TlsLevel::secure)
        return bad("gives match= to a level that checks no name");
      for (auto& n : split(opt.substr(6), ':')) {
        if (!good_name(n)) return bad("has a bad name in '" + opt + "'");
        p.match.push_back(lower(n));
      }
    }
    std::string key = lower(f[0]);
    std::size_t score = 0;
    if (key == "." || key == "*") {
      score = 1;
    } else if (key == domain) {
      score = exact;
    } else if (key[0] == '.' && key.size() > 1 && domain.size() > key.size() &&
               domain.compare(domain.size() - key.size(), key.size(), key) == 0) {
      score = 2 + key.size();
    }
    if (score > best) {
      best = score;
      out.policy = std::move(p);
    }
  }
  return out;
}

TlsPolicyLookup tls_policy_for(const std::string& domain) {
  // DANE's TLSA records are per host, so they are weighed later, once the
  // route is known (remote's main); MTA-STS plugs in here.
  auto lines = control::lines("tlspolicy");
  if (!lines) {
    TlsPolicyLookup b;
    b.ok = false;
    b.why = "Unable to read control/tlspolicy. (#4.3.0)";
    return b;
  }
  return tls_policy_from_lines(*lines, domain);
}

}  // namespace postern::remote
