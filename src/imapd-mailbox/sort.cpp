// imapd-mailbox: SORT (RFC 5256) with DISPLAYFROM/DISPLAYTO (RFC 5957) and
// ESORT's RETURN options (RFC 5267), and RFC 5256's base subject, which
// THREAD shares. Each matching message's sort values are computed once
// (its header read once, each value capped in size), then the indexes are
// sorted: memory and time grow as n log n in the messages, whatever their
// headers hold. Ties fall back to the sequence number, ascending even
// under REVERSE, as Dovecot orders them. Trusts the session; returns the
// responses.
#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "imap/imap_decode.hpp"
#include "search.hpp"

namespace imapd {

namespace {

constexpr std::size_t max_key_bytes = 1024;  // of one sort value: enough to order, bounded

enum class Crit { arrival, cc, date, from, size, subject, to, displayfrom, displayto };

struct Criterion {
  Crit c;
  bool reverse;
};

// i;ascii-casemap: ASCII letters compared as upper case, other bytes as
// they are.
std::string casemap(std::string s) {
  if (s.size() > max_key_bytes) s.resize(max_key_bytes);
  for (char& ch : s)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
  return s;
}

bool ws(char c) { return c == ' ' || c == '\t'; }

// A subj-blob "[...]" and the white space after it at the start of s; its
// length, or 0.
std::size_t blob(std::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  std::size_t i = 1;
  while (i < s.size() && s[i] != '[' && s[i] != ']') ++i;
  if (i >= s.size() || s[i] != ']') return 0;
  ++i;
  while (i < s.size() && ws(s[i])) ++i;
  return i;
}

// A subj-refwd at the start of s ("re", "fw" or "fwd", white space, an
// optional blob, ":"): its length, or 0.
std::size_t refwd(std::string_view s) {
  std::size_t i = 0;
  auto lower_at = [&](std::size_t k) { return k < s.size() ? static_cast<char>(s[k] | 0x20) : '\0'; };
  if (lower_at(0) == 'r' && lower_at(1) == 'e') i = 2;
  else if (lower_at(0) == 'f' && lower_at(1) == 'w') i = lower_at(2) == 'd' ? 3 : 2;
  else return 0;
  while (i < s.size() && ws(s[i])) ++i;
  i += blob(s.substr(i));
  if (i < s.size() && s[i] == ':') return i + 1;
  return 0;
}

}  // namespace

std::string base_subject(std::string_view subject, bool* is_reply) {
  // (1) words decoded, every run of white space one space.
  std::string dec = decode_header_words(subject.substr(0, 4 * max_key_bytes));
  std::string s;
  for (char c : dec) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && (s.empty() || s.back() == ' ')) continue;
    s += c;
  }
  bool reply = false;
  for (int round = 0; round < 100; ++round) {
    // (2) trailers: "(fwd)" and white space at the end.
    for (;;) {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      if (s.size() >= 5 && iequal(std::string_view(s).substr(s.size() - 5), "(fwd)")) {
        s.resize(s.size() - 5);
        reply = true;
        continue;
      }
      break;
    }
    // (3) leaders and (4) a blob, until neither changes anything.
    for (;;) {
      bool changed = false;
      std::size_t i = 0;
      while (i < s.size() && ws(s[i])) ++i;
      // subj-leader: *subj-blob subj-refwd, or white space.
      for (;;) {
        std::size_t j = i, b;
        while ((b = blob(std::string_view(s).substr(j))) > 0) j += b;
        std::size_t r = refwd(std::string_view(s).substr(j));
        if (r == 0) break;
        i = j + r;
        reply = true;
        while (i < s.size() && ws(s[i])) ++i;
      }
      if (i > 0) {
        s.erase(0, i);
        changed = true;
      }
      std::size_t b = blob(s);
      if (b > 0 && b < s.size()) {
        s.erase(0, b);
        changed = true;
      }
      if (!changed) break;
    }
    // (6) "[fwd: ... ]" around the whole subject.
    if (s.size() >= 6 && iequal(std::string_view(s).substr(0, 5), "[fwd:") && s.back() == ']') {
      s = s.substr(5, s.size() - 6);
      reply = true;
      continue;
    }
    break;
  }
  if (is_reply) *is_reply = reply;
  return s;
}

namespace {

bool parse_criteria(Parser& p, std::vector<Criterion>& out) {
  if (!p.accept('(')) return false;
  bool reverse = false;
  for (;;) {
    auto a = p.atom();
    if (!a) return false;
    std::string u = upper(*a);
    if (u == "REVERSE") {
      if (reverse || !p.sp()) return false;
      reverse = true;
      continue;
    }
    static const std::pair<const char*, Crit> names[] = {
        {"ARRIVAL", Crit::arrival}, {"CC", Crit::cc},           {"DATE", Crit::date},
        {"FROM", Crit::from},       {"SIZE", Crit::size},       {"SUBJECT", Crit::subject},
        {"TO", Crit::to},           {"DISPLAYFROM", Crit::displayfrom}, {"DISPLAYTO", Crit::displayto}};
    bool known = false;
    for (auto& [n, c] : names)
      if (u == n) {
        out.push_back({c, reverse});
        known = true;
      }
    if (!known || out.size() > 16) return false;
    reverse = false;
    if (p.accept(')')) return p.sp();
    if (!p.sp()) return false;
  }
}

bool textual(Crit c) { return c != Crit::arrival && c != Crit::date && c != Crit::size; }

}  // namespace

void Session::cmd_sort(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  Returns ret;
  std::size_t save = p.pos();
  auto w = p.atom();
  if (w && upper(*w) == "RETURN") {
    if (!parse_returns(p, ret) || ret.save || ret.update) return bad(tag, "Invalid RETURN options");
  } else {
    p.set_pos(save);
  }
  std::vector<Criterion> crits;
  if (!parse_criteria(p, crits)) return bad(tag, "Invalid sort criteria");
  std::string error;
  auto prog = parse_program(p, error, true);
  if (!prog) {
    if (error.starts_with("NO [LIMIT]")) log::line("{}: SORT past its limits", who_);
    io_.put(tag + " " + error + "\r\n");
    return;
  }
  if (auto why = rev2_refusal(*this, *prog); !why.empty()) return bad(tag, why);
  if (prog->modseq) enabled_.condstore = true;
  Searcher se{*this};
  auto found = se.run(*prog);

  // Every value each message needs, computed once.
  std::vector<std::vector<std::string>> text(found.size());
  std::vector<std::vector<std::uint64_t>> num(found.size());
  for (std::size_t k = 0; k < found.size(); ++k) {
    Msg& m = sel_->msgs[found[k]];
    const Message* h = nullptr;
    bool need_header = false;
    for (auto& cr : crits)
      if (cr.c != Crit::arrival && cr.c != Crit::size) need_header = true;
    std::optional<std::string> from, to, cc, subject, date;
    if (need_header && (h = parsed(m, true))) {
      from = h->field("From"), to = h->field("To"), cc = h->field("Cc");
      subject = h->field("Subject"), date = h->field("Date");
    }
    for (auto& cr : crits) {
      switch (cr.c) {
        case Crit::arrival: num[k].push_back(static_cast<std::uint64_t>(internal_date(m).value_or(0))); break;
        case Crit::size: num[k].push_back(m.vsize); break;
        case Crit::date: {
          auto t = date ? rfc5322_time(*date) : std::nullopt;
          if (!t) t = internal_date(m);
          num[k].push_back(static_cast<std::uint64_t>(t.value_or(0)));
          break;
        }
        case Crit::subject: text[k].push_back(casemap(subject ? base_subject(*subject) : "")); break;
        case Crit::from:
        case Crit::to:
        case Crit::cc: {
          auto& v = cr.c == Crit::from ? from : cr.c == Crit::to ? to : cc;
          auto a = v ? first_address(*v) : std::nullopt;
          text[k].push_back(casemap(a ? a->local : ""));
          break;
        }
        case Crit::displayfrom:
        case Crit::displayto: {
          auto& v = cr.c == Crit::displayfrom ? from : to;
          auto a = v ? first_address(*v) : std::nullopt;
          std::string d;
          if (a) d = !a->name.empty() ? a->name : a->domain.empty() ? a->local : a->local + "@" + a->domain;
          text[k].push_back(casemap(d));
          break;
        }
      }
    }
  }
  std::vector<std::size_t> order(found.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    std::size_t ti = 0, ni = 0;
    for (auto& cr : crits) {
      int r;
      if (textual(cr.c)) {
        int cmp = text[x][ti].compare(text[y][ti]);
        r = cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
        ++ti;
      } else {
        r = num[x][ni] < num[y][ni] ? -1 : num[x][ni] > num[y][ni] ? 1 : 0;
        ++ni;
      }
      if (cr.reverse) r = -r;
      if (r != 0) return r < 0;
    }
    return found[x] < found[y];
  });
  std::vector<std::uint32_t> nums;
  nums.reserve(order.size());
  std::uint64_t top = 0;
  for (auto k : order) {
    Msg& m = sel_->msgs[found[k]];
    nums.push_back(c.uid ? m.uid : static_cast<std::uint32_t>(found[k] + 1));
    top = std::max(top, m.modseq);
  }
  std::optional<std::uint64_t> modseq;
  if (prog->modseq) modseq = top;
  if (ret.esearch) {
    io_.put(esearch_text(tag, c.uid, ret, nums, true, modseq));
  } else {
    std::string out = "* SORT";
    for (auto n : nums) out += " " + std::to_string(n);
    if (modseq && !nums.empty()) out += fmt::format(" (MODSEQ {})", *modseq);
    io_.put(out + "\r\n");
  }
  if (c.uid) update(false);
  ok(tag, c.uid ? "UID SORT completed" : "SORT completed");
}

}  // namespace imapd
