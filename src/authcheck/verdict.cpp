// verdict: see verdict.hpp.
#include "verdict.hpp"

#include <sstream>

#include "base/strings.hpp"
#include "mail/header.hpp"

namespace postern::authcheck {

namespace {

// A value as RFC 8601 writes it: a token when it is one, else a quoted
// string; bytes that cannot be in a header (controls, non-ASCII) dropped.
std::string value(const std::string& v) {
  std::string clean;
  bool token = !v.empty();
  for (unsigned char c : v) {
    if (c < 32 || c >= 127) continue;
    clean += static_cast<char>(c);
    if (c == ' ' || c == '"' || c == '\\' || c == '(' || c == ')' || c == ';' || c == '<' || c == '>' ||
        c == ',' || c == '[' || c == ']' || c == ':')
      token = false;
  }
  if (clean.size() > 256) clean.resize(256);
  if (token && !clean.empty()) return clean;
  std::string q = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// A comment's text: printable ASCII without parentheses or backslashes.
std::string comment(const std::string& text) {
  std::string out;
  for (unsigned char c : text)
    if (c >= 32 && c < 127 && c != '(' && c != ')' && c != '\\') out += static_cast<char>(c);
  if (out.size() > 200) out.resize(200);
  return out.empty() ? "" : " (" + out + ")";
}

const std::vector<std::string> known_keys = {
    "spf=fail",      "spf=softfail", "spf=neutral",   "spf=none",       "spf=temperror",   "spf=permerror",
    "dkim=fail",     "dkim=none",    "dkim=temperror", "dkim=permerror", "dmarc=fail",      "dmarc=reject",
    "dmarc=quarantine", "dmarc=temperror", "dmarc=permerror"};

// The reply for a rejection by key; a temporary error gets a 451.
std::string reply_for(const std::string& key, const Results& r) {
  if (key.ends_with("=temperror")) return "451 4.4.3 " + key + ": a DNS look-up failed; try again later";
  if (key.starts_with("spf=permerror")) return "550 5.7.24 SPF: the sender's SPF record is broken (spf=permerror)";
  if (key.starts_with("spf="))
    return "550 5.7.23 SPF: this host is not allowed to send mail from " + spf_used(r).domain + " (" + key + ")";
  if (key.starts_with("dkim=")) return "550 5.7.20 no valid DKIM signature (" + key + ")";
  return "550 5.7.26 DMARC: the message is not authenticated as from " + r.dmarc.domain + ", whose policy refuses it (" +
         key + ")";
}

}  // namespace

const SpfResult& spf_used(const Results& r) { return r.sender.empty() ? r.spf_helo : r.spf_mailfrom; }

std::string dkim_summary(const std::vector<DkimResult>& dkim) {
  if (dkim.empty()) return "none";
  for (const char* order : {"pass", "temperror", "fail", "permerror"})
    for (auto& d : dkim)
      if (d.result == order) return order;
  return "neutral";
}

std::string authentication_results(const std::string& authserv_id, const Results& r) {
  std::vector<std::string> parts;
  if (!r.sender.empty())
    parts.push_back("spf=" + r.spf_mailfrom.result + comment(r.spf_mailfrom.comment) + " smtp.mailfrom=" + value(r.sender));
  parts.push_back("spf=" + r.spf_helo.result + " smtp.helo=" + value(r.helo));
  if (r.dkim.empty()) parts.push_back("dkim=none");
  for (auto& d : r.dkim) {
    std::string p = "dkim=" + d.result + comment(d.comment);
    if (!d.domain.empty()) p += " header.d=" + value(d.domain);
    if (!d.selector.empty()) p += " header.s=" + value(d.selector);
    if (!d.algorithm.empty()) p += " header.a=" + value(d.algorithm);
    if (!d.b.empty()) p += " header.b=" + value(d.b);
    parts.push_back(p);
  }
  std::string dmarc = "dmarc=" + r.dmarc.result;
  if (r.dmarc.policy) {
    const char* name = r.dmarc.policy == 'r' ? "reject" : r.dmarc.policy == 'q' ? "quarantine" : "none";
    dmarc += std::string(" (p=") + name + ")";
  }
  if (!r.dmarc.domain.empty()) dmarc += " header.from=" + value(r.dmarc.domain);
  parts.push_back(dmarc);
  std::string out = "Authentication-Results: " + value(authserv_id);
  for (auto& p : parts) out += ";\n\t" + p;
  return out + "\n";
}

std::string without_forged_results(const std::string& head, const std::string& authserv_id) {
  std::string out;
  bool dropping = false;
  for (std::size_t at = 0; at < head.size();) {
    std::size_t end = head.find('\n', at);
    end = end == std::string::npos ? head.size() : end + 1;
    std::string_view line(head.data() + at, end - at);
    at = end;
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && line.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      if (!dropping) out += line;
      continue;
    }
    dropping = false;
    auto colon = line.find(':');
    if (colon != std::string_view::npos && header::same_name(trim(line.substr(0, colon)), "Authentication-Results")) {
      // The authserv-id is the value's first word, up to ';' or white space.
      std::string_view v = trim(line.substr(colon + 1));
      std::string_view id = v.substr(0, v.find_first_of("; \t\r\n"));
      if (lower(id) == lower(authserv_id)) {
        dropping = true;
        continue;
      }
    }
    out += line;
  }
  return out;
}

std::optional<std::vector<Rule>> parse_policy(const std::vector<std::string>& lines, std::string& why) {
  std::vector<Rule> rules;
  for (auto& line : lines) {
    std::istringstream words(line);
    std::string key, action, extra;
    words >> key >> action;
    bool known = false;
    for (auto& k : known_keys) known |= key == k;
    Rule rule{key, Action::header};
    bool ok = known && !(words >> extra);
    if (action == "reject") rule.action = Action::reject;
    else if (action == "quarantine") rule.action = Action::quarantine;
    else if (action != "header") ok = false;
    if (!ok) {
      why = "control/authpolicy: \"" + line + "\" is not \"METHOD=RESULT ACTION\" with a known result and reject, quarantine or header";
      return std::nullopt;
    }
    rules.push_back(rule);
  }
  return rules;
}

Decision decide(const std::vector<Rule>& policy, const Results& r) {
  // What the message earned, most specific first; the strictest action of
  // the rules that match wins.
  std::vector<std::string> earned = {"spf=" + spf_used(r).result, "dkim=" + dkim_summary(r.dkim),
                                     "dmarc=" + r.dmarc.result};
  if (r.dmarc.result == "fail" && r.dmarc.policy == 'r') earned.push_back("dmarc=reject");
  if (r.dmarc.result == "fail" && r.dmarc.policy == 'q') earned.push_back("dmarc=quarantine");
  Decision d;
  for (auto& rule : policy) {
    bool matches = false;
    for (auto& e : earned) matches |= e == rule.key;
    if (!matches || rule.action <= d.action) continue;
    d.action = rule.action;
    d.key = rule.key;
  }
  if (d.action == Action::reject) {
    // The names in it came from the sender: one printable line, bounded,
    // as an SMTP reply must be (and as queue_client insists).
    std::string reply;
    for (unsigned char c : reply_for(d.key, r))
      if (c >= 32 && c < 127) reply += static_cast<char>(c);
    if (reply.size() > 400) reply.resize(400);
    d.reply = reply;
  }
  return d;
}

}  // namespace postern::authcheck
