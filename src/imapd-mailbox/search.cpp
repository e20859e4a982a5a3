// imapd-mailbox: SEARCH (RFC 3501 section 6.4.4) with ESEARCH (RFC 4731),
// SEARCHRES (RFC 5182), PARTIAL (RFC 5267/9394) and the MODSEQ key (RFC
// 7162): parsing the keys, evaluating them over the selected folder, and
// the answer. Strings match as case-insensitive substrings in time linear
// in text and string (imap_parse's icontains): header values with RFC 2047
// words decoded, address headers as Dovecot writes them, bodies with their
// transfer encoding undone and their charset made UTF-8 (imap_decode). The
// keys are bounded in number and string size (session.hpp); past a bound
// the answer is NO [LIMIT]. Trusts the session; returns responses.
#include "search.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "imap/imap_decode.hpp"
#include "mail/header.hpp"

namespace imapd {

namespace {

bool parse_key(Parser& p, Key& k, int depth, Budget& b);

bool parse_keys(Parser& p, std::vector<Key>& out, int depth, bool paren, Budget& b) {
  for (;;) {
    Key k;
    if (!parse_key(p, k, depth, b)) return false;
    out.push_back(std::move(k));
    if (paren && p.accept(')')) return true;
    if (!paren && p.eol()) return true;
    if (!p.sp()) return false;
    if (out.size() > 1000) return false;
  }
}

bool parse_key(Parser& p, Key& k, int depth, Budget& b) {
  if (depth > 50) return false;
  if (++b.keys > max_search_keys) {
    b.limit = true;
    return false;
  }
  if (p.accept('(')) {
    k.kind = Key::and_;
    return parse_keys(p, k.kids, depth + 1, true, b);
  }
  if (p.peek() == '$') {  // SEARCHRES's saved result (RFC 5182)
    if (p.word() != "$") return false;
    k.kind = Key::saved;
    return true;
  }
  if ((p.peek() >= '0' && p.peek() <= '9') || p.peek() == '*') {
    auto s = parse_seqset(p.word());
    if (!s) return false;
    k.kind = Key::seq;
    k.set = *s;
    return true;
  }
  auto w = p.atom();
  if (!w) return false;
  std::string u = upper(*w);
  auto arg = [&](std::string& into) {
    if (!p.sp()) return false;
    auto s = p.astring();
    if (!s) return false;
    if (s->size() > max_search_string) {
      b.limit = true;
      return false;
    }
    into = *s;
    return true;
  };
  auto date = [&](Key::Kind kind) {
    std::string d;
    if (!arg(d)) return false;
    auto t = parse_date(d);
    if (!t) return false;
    k.kind = kind;
    k.t = *t;
    return true;
  };
  auto number = [&](Key::Kind kind) {
    if (!p.sp()) return false;
    auto n = p.number64();
    if (!n) return false;
    k.kind = kind;
    k.n = *n;
    return true;
  };
  struct F { const char* name; Key::Kind kind; std::uint8_t flag; };
  static const F flags[] = {
      {"ANSWERED", Key::flag_set, f_answered}, {"DELETED", Key::flag_set, f_deleted},
      {"DRAFT", Key::flag_set, f_draft},       {"FLAGGED", Key::flag_set, f_flagged},
      {"SEEN", Key::flag_set, f_seen},         {"UNANSWERED", Key::flag_unset, f_answered},
      {"UNDELETED", Key::flag_unset, f_deleted}, {"UNDRAFT", Key::flag_unset, f_draft},
      {"UNFLAGGED", Key::flag_unset, f_flagged}, {"UNSEEN", Key::flag_unset, f_seen}};
  for (auto& f : flags)
    if (u == f.name) {
      k.kind = f.kind;
      k.flag = f.flag;
      return true;
    }
  if (u == "ALL") return k.kind = Key::all, true;
  if (u == "RECENT") return k.kind = Key::recent, b.recent = true;
  if (u == "NEW") return k.kind = Key::new_, b.recent = true;
  if (u == "OLD") return k.kind = Key::old, b.recent = true;
  if (u == "KEYWORD" || u == "UNKEYWORD") {
    k.kind = u == "KEYWORD" ? Key::kw_set : Key::kw_unset;
    if (!p.sp()) return false;
    auto a = p.atom();
    if (!a) return false;
    k.a = *a;
    return true;
  }
  if (u == "FROM" || u == "TO" || u == "CC" || u == "BCC") {
    k.kind = Key::address;
    k.a = u;
    return arg(k.b);
  }
  if (u == "SUBJECT") {
    k.kind = Key::header;
    k.a = u;
    return arg(k.b);
  }
  if (u == "HEADER") {
    k.kind = Key::header;
    return arg(k.a) && arg(k.b);
  }
  if (u == "BODY") return k.kind = Key::body, arg(k.a);
  if (u == "TEXT") return k.kind = Key::text, arg(k.a);
  if (u == "BEFORE") return date(Key::before);
  if (u == "ON") return date(Key::on);
  if (u == "SINCE") return date(Key::since);
  if (u == "SENTBEFORE") return date(Key::sent_before);
  if (u == "SENTON") return date(Key::sent_on);
  if (u == "SENTSINCE") return date(Key::sent_since);
  if (u == "LARGER") return number(Key::larger);
  if (u == "SMALLER") return number(Key::smaller);
  if (u == "OLDER") return number(Key::older) && k.n > 0;
  if (u == "YOUNGER") return number(Key::younger) && k.n > 0;
  if (u == "MODSEQ") {
    // RFC 7162: MODSEQ [entry-name entry-type-req] mod-sequence-valzer;
    // postern keeps one MODSEQ a message, so the entry names any flag.
    if (!p.sp()) return false;
    if (p.peek() == '"') {
      if (!p.quoted() || !p.sp()) return false;
      auto t = p.atom();
      if (!t || !p.sp()) return false;
      std::string tu = upper(*t);
      if (tu != "PRIV" && tu != "SHARED" && tu != "ALL") return false;
    }
    auto n = p.number64();
    if (!n) return false;
    k.kind = Key::modseq;
    k.n = *n;
    b.modseq = true;
    return true;
  }
  if (u == "UID") {
    if (!p.sp()) return false;
    if (p.peek() == '$') {
      if (p.word() != "$") return false;
      k.kind = Key::saved;
      return true;
    }
    auto s = parse_seqset(p.word());
    if (!s) return false;
    k.kind = Key::uid;
    k.set = *s;
    return true;
  }
  if (u == "NOT") {
    k.kind = Key::not_;
    k.kids.emplace_back();
    return p.sp() && parse_key(p, k.kids[0], depth + 1, b);
  }
  if (u == "OR") {
    k.kind = Key::or_;
    k.kids.resize(2);
    return p.sp() && parse_key(p, k.kids[0], depth + 1, b) && p.sp() && parse_key(p, k.kids[1], depth + 1, b);
  }
  return false;
}

// Sequence and UID sets made concrete and merged, once for the command.
void normalize_sets(Key& k, std::uint32_t max_seq, std::uint32_t max_uid) {
  if (k.kind == Key::seq) k.set = normalize(k.set, max_seq);
  if (k.kind == Key::uid) k.set = normalize(k.set, max_uid);
  for (auto& c : k.kids) normalize_sets(c, max_seq, max_uid);
}

// What a key needs read: 0 nothing, 1 the header, 2 the whole message.
int needs(const Key& k) {
  int n = 0;
  if (k.kind == Key::header || k.kind == Key::address || k.kind == Key::sent_before || k.kind == Key::sent_on ||
      k.kind == Key::sent_since)
    n = 1;
  if (k.kind == Key::body || k.kind == Key::text) n = 2;
  for (auto& c : k.kids) n = std::max(n, needs(c));
  return n;
}

// True when any leaf part's decoded text (or, in an attached message, its
// decoded header) holds s. A part whose encoding is unknown is searched as
// it is stored.
bool body_contains(const Message& msg, const Part& part, std::string_view s, int depth) {
  if (depth > 40) return false;
  std::string_view text = msg.text();
  auto range = [&](std::size_t a, std::size_t b) { return text.substr(a, b >= a ? b - a : 0); };
  if (part.multipart()) {
    for (auto& c : part.parts)
      if (body_contains(msg, c, s, depth + 1)) return true;
    return false;
  }
  if (part.rfc822() && !part.parts.empty()) {
    const Part& inner = part.parts[0];
    if (icontains(decode_header_words(range(inner.header_begin, inner.body_begin)), s)) return true;
    return body_contains(msg, inner, s, depth + 1);
  }
  std::string_view raw = range(part.body_begin, part.end);
  auto decoded = decode_transfer(raw, part.encoding);
  if (!decoded) return icontains(raw, s);
  if (iequal(part.type, "text")) {
    std::string charset;
    for (auto& [n, v] : part.params)
      if (iequal(n, "charset")) charset = v;
    if (!charset.empty()) return icontains(to_utf8(*decoded, charset), s);
  }
  return icontains(*decoded, s);
}

}  // namespace

std::string address_text(std::string_view value) {
  std::string out, group;
  header::for_each_mailbox(value, [&](const header::Mailbox& m) {
    if (m.group != group) {
      if (!group.empty()) out += "; ";
      if (!m.group.empty()) out += decode_header_words(m.group) + ": ";
      group = m.group;
    } else if (!out.empty()) {
      out += ", ";
    }
    if (!m.name.empty()) out += decode_header_words(m.name) + " ";
    out += "<" + m.address + ">";
    return out.size() < 1000000;
  });
  if (!group.empty()) out += ";";
  return out;
}

std::optional<FirstAddress> first_address(std::string_view value) {
  std::optional<FirstAddress> out;
  header::for_each_mailbox(value, [&](const header::Mailbox& m) {
    FirstAddress a;
    a.name = decode_header_words(m.name);
    std::size_t at = m.address.rfind('@');
    a.local = m.address.substr(0, at);
    if (at != std::string::npos) a.domain = m.address.substr(at + 1);
    if (a.local.size() >= 2 && a.local.front() == '"' && a.local.back() == '"')
      a.local = a.local.substr(1, a.local.size() - 2);
    out = std::move(a);
    return false;
  });
  return out;
}

std::string set_text(const std::vector<std::uint32_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(v[i]) : fmt::format("{}:{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

const Message* Searcher::header(Session& s, Msg& m) { return s.parsed(m, true); }

bool Searcher::eval(const Key& k, Msg& m, std::size_t seq, int need) {
  switch (k.kind) {
    case Key::all: return true;
    case Key::and_:
      for (auto& c : k.kids)
        if (!eval(c, m, seq, need)) return false;
      return true;
    case Key::or_: return eval(k.kids[0], m, seq, need) || eval(k.kids[1], m, seq, need);
    case Key::not_: return !eval(k.kids[0], m, seq, need);
    case Key::flag_set: return (m.flags.sys & k.flag) != 0;
    case Key::flag_unset: return (m.flags.sys & k.flag) == 0;
    case Key::kw_set:
    case Key::kw_unset: {
      bool has = false;
      for (std::size_t i = 0; i < s.sel_->keywords.size() && i < 32; ++i)
        if (iequal(s.sel_->keywords[i], k.a) && (m.flags.kw & (1u << i))) has = true;
      return has == (k.kind == Key::kw_set);
    }
    case Key::recent: return m.recent;
    case Key::new_: return m.recent && !(m.flags.sys & f_seen);
    case Key::old: return !m.recent;
    case Key::larger: return m.vsize > k.n;
    case Key::smaller: return m.vsize < k.n;
    case Key::uid: return in_set(k.set, m.uid);
    case Key::seq: return in_set(k.set, static_cast<std::uint32_t>(seq));
    case Key::saved: return std::binary_search(s.sel_->saved_uids.begin(), s.sel_->saved_uids.end(), m.uid);
    case Key::modseq: return m.modseq >= k.n;
    case Key::older:
    case Key::younger: {
      auto t = s.internal_date(m);
      if (!t) return false;
      std::time_t age = std::time(nullptr) - *t;
      return k.kind == Key::older ? age >= static_cast<std::time_t>(k.n) : age <= static_cast<std::time_t>(k.n);
    }
    case Key::before:
    case Key::on:
    case Key::since: {
      auto t = s.internal_date(m);
      if (!t) return false;
      struct tm lt {};
      ::localtime_r(&*t, &lt);
      struct tm d {};
      d.tm_year = lt.tm_year, d.tm_mon = lt.tm_mon, d.tm_mday = lt.tm_mday;
      std::time_t day = ::timegm(&d);
      return k.kind == Key::before ? day < k.t : k.kind == Key::on ? day == k.t : day >= k.t;
    }
    default: break;
  }
  const Message* msg = s.parsed(m, need < 2);
  if (!msg) return false;
  switch (k.kind) {
    case Key::header: {
      for (auto& v : msg->fields(k.a))
        if (icontains(decode_header_words(v), k.b) || icontains(v, k.b)) return true;
      return false;
    }
    case Key::address: {
      for (auto& v : msg->fields(k.a))
        if (icontains(address_text(v), k.b) || icontains(decode_header_words(v), k.b)) return true;
      return false;
    }
    case Key::body: return body_contains(*msg, msg->root(), k.a, 0);
    case Key::text:
      return icontains(decode_header_words(msg->header()), k.a) || body_contains(*msg, msg->root(), k.a, 0);
    case Key::sent_before:
    case Key::sent_on:
    case Key::sent_since: {
      auto d = msg->field("Date");
      auto day = d ? rfc5322_day(*d) : std::nullopt;
      if (!day) return false;
      return k.kind == Key::sent_before ? *day < k.t : k.kind == Key::sent_on ? *day == k.t : *day >= k.t;
    }
    default: return false;
  }
}

std::vector<std::size_t> Searcher::run(Program& prog) {
  auto& msgs = s.sel_->msgs;
  std::uint32_t max_uid = msgs.empty() ? 0 : msgs.back().uid;
  normalize_sets(prog.root, static_cast<std::uint32_t>(msgs.size()), max_uid);
  int need = needs(prog.root);
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].gone) continue;
    if (eval(prog.root, msgs[i], i + 1, need)) out.push_back(i);
  }
  return out;
}

void Searcher::save(Session& s, const std::vector<std::size_t>& idx) {
  auto& sel = *s.sel_;
  sel.saved_uids.clear();
  for (auto i : idx) sel.saved_uids.push_back(sel.msgs[i].uid);
  std::sort(sel.saved_uids.begin(), sel.saved_uids.end());
}

std::vector<std::size_t> Session::saved_result() {
  std::vector<std::size_t> out;
  auto& msgs = sel_->msgs;
  for (auto uid : sel_->saved_uids) {
    auto it = std::lower_bound(msgs.begin(), msgs.end(), uid, [](const Msg& m, std::uint32_t u) { return m.uid < u; });
    if (it != msgs.end() && it->uid == uid) out.push_back(static_cast<std::size_t>(it - msgs.begin()));
  }
  return out;
}

std::optional<Program> parse_program(Parser& p, std::string& error, bool bare_charset) {
  Program prog;
  std::size_t save = p.pos();
  auto w = bare_charset ? std::optional<std::string>("CHARSET") : p.atom();
  if (w && upper(*w) == "CHARSET") {
    auto cs = bare_charset || p.sp() ? p.astring() : std::nullopt;
    if (!cs || !p.sp()) {
      error = "BAD Bad CHARSET";
      return std::nullopt;
    }
    std::string u = upper(*cs);
    if (u != "UTF-8" && u != "US-ASCII") {
      error = "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset";
      return std::nullopt;
    }
  } else {
    p.set_pos(save);
  }
  prog.root.kind = Key::and_;
  Budget budget;
  if (!parse_keys(p, prog.root.kids, 0, false, budget)) {
    error = budget.limit ? fmt::format("NO [LIMIT] At most {} search keys and {} bytes a search string",
                                       max_search_keys, max_search_string)
                         : "BAD Invalid search criteria";
    return std::nullopt;
  }
  prog.modseq = budget.modseq;
  prog.recent = budget.recent;
  return prog;
}

std::string rev2_refusal(Session& s, const Program& prog) {
  if (!prog.recent || !Searcher::rev2(s)) return "";
  return "NEW, OLD and RECENT are not IMAP4rev2 search keys";
}

bool parse_returns(Parser& p, Returns& r) {
  if (!p.sp() || !p.accept('(')) return false;
  r.esearch = true;
  if (p.accept(')')) return p.sp();
  for (;;) {
    auto a = p.atom();
    if (!a) return false;
    std::string u = upper(*a);
    if (u == "MIN") r.min = true;
    else if (u == "MAX") r.max = true;
    else if (u == "ALL") r.all = true;
    else if (u == "COUNT") r.count = true;
    else if (u == "SAVE") r.save = true;
    else if (u == "UPDATE") r.update = true;
    else if (u == "PARTIAL") {
      if (!p.sp()) return false;
      std::string_view w = p.word();
      auto colon = w.find(':');
      if (colon == std::string_view::npos) return false;
      auto a1 = parse_seqset(w.substr(0, colon)), b1 = parse_seqset(w.substr(colon + 1));
      if (!a1 || !b1 || a1->size() != 1 || b1->size() != 1) return false;
      std::uint32_t x = (*a1)[0].first, y = (*b1)[0].first;
      if (x == star || y == star) return false;
      r.partial = std::make_pair(std::min(x, y), std::max(x, y));
    } else {
      return false;
    }
    if (p.accept(')')) return p.sp();
    if (!p.sp()) return false;
  }
}

std::string esearch_text(const std::string& tag, bool uid, const Returns& r, const std::vector<std::uint32_t>& nums,
                         bool sorted_order, std::optional<std::uint64_t> modseq) {
  std::string out = "* ESEARCH (TAG " + quote(tag) + ")";
  if (uid) out += " UID";
  bool only_partial = !r.min && !r.max && !r.all && !r.count && r.partial;
  bool all = r.all || (!r.min && !r.max && !r.count && !r.save && !r.partial);
  if (!nums.empty()) {
    if (r.min) out += " MIN " + std::to_string(sorted_order ? nums.front() : *std::min_element(nums.begin(), nums.end()));
    if (r.max) out += " MAX " + std::to_string(sorted_order ? nums.back() : *std::max_element(nums.begin(), nums.end()));
  }
  if (r.count) out += " COUNT " + std::to_string(nums.size());
  if (all && !only_partial && !nums.empty()) {
    if (sorted_order) {
      std::string list;
      for (std::size_t i = 0; i < nums.size(); ++i) {
        std::size_t j = i;
        while (j + 1 < nums.size() && nums[j + 1] == nums[j] + 1) ++j;
        if (!list.empty()) list += ',';
        list += j == i ? std::to_string(nums[i]) : fmt::format("{}:{}", nums[i], nums[j]);
        i = j;
      }
      out += " ALL " + list;
    } else {
      out += " ALL " + set_text(nums);
    }
  }
  if (r.partial) {
    auto [lo, hi] = *r.partial;
    std::vector<std::uint32_t> part;
    for (std::uint64_t i = lo; i <= hi && i <= nums.size(); ++i) part.push_back(nums[i - 1]);
    std::string list;
    if (!sorted_order) list = set_text(part);
    else
      for (auto n : part) list += (list.empty() ? "" : ",") + std::to_string(n);
    out += fmt::format(" PARTIAL ({}:{} {})", lo, hi, list.empty() ? "NIL" : list);
  }
  if (modseq && !nums.empty()) out += " MODSEQ " + std::to_string(*modseq);
  return out + "\r\n";
}

void Session::cmd_search(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  Returns ret;
  std::size_t save = p.pos();
  auto w = p.atom();
  if (w && upper(*w) == "RETURN") {
    if (!parse_returns(p, ret)) return bad(tag, "Invalid RETURN options");
  } else {
    p.set_pos(save);
  }
  std::string error;
  auto prog = parse_program(p, error);
  if (!prog) {
    if (error.starts_with("NO [LIMIT]")) log::line("{}: SEARCH past its limits", who_);
    io_.put(tag + " " + error + "\r\n");
    return;
  }
  if (auto why = rev2_refusal(*this, *prog); !why.empty()) return bad(tag, why);
  if (prog->modseq) condstore_on();
  if (ret.update && ret.save) return bad(tag, "UPDATE and SAVE cannot be combined");
  std::optional<Program> kept;
  if (ret.update) kept = *prog;  // before its sets are made concrete
  Searcher se{*this};
  auto found = se.run(*prog);
  if (kept && !add_context(*this, tag, c.uid, *kept, found))
    return no(tag, fmt::format("[NOUPDATE {}] At most {} updating searches", quote(tag), max_search_contexts));
  std::vector<std::uint32_t> nums;
  std::uint64_t top = 0;
  for (auto i : found) {
    nums.push_back(c.uid ? sel_->msgs[i].uid : static_cast<std::uint32_t>(i + 1));
    top = std::max(top, sel_->msgs[i].modseq);
  }
  std::optional<std::uint64_t> modseq;
  if (prog->modseq) modseq = top;
  // RFC 7162 section 3.1.5: with only MIN and/or MAX returned, the MODSEQ
  // is the highest of the messages returned, not of all found.
  if (prog->modseq && ret.esearch && (ret.min || ret.max) && !ret.all && !ret.count && !found.empty()) {
    std::uint64_t m = 0;
    if (ret.min) m = std::max(m, sel_->msgs[found.front()].modseq);
    if (ret.max) m = std::max(m, sel_->msgs[found.back()].modseq);
    modseq = m;
  }
  if (ret.save) {
    // With MIN or MAX (and neither ALL nor COUNT), only those are saved.
    if ((ret.min || ret.max) && !ret.all && !ret.count && !found.empty()) {
      std::vector<std::size_t> keep;
      if (ret.min) keep.push_back(found.front());
      if (ret.max && (!ret.min || found.back() != found.front())) keep.push_back(found.back());
      Searcher::save(*this, keep);
    } else {
      Searcher::save(*this, found);
    }
  }
  bool only_save = ret.save && !ret.min && !ret.max && !ret.all && !ret.count && !ret.partial;
  if (ret.esearch || enabled_.rev2) {
    if (!only_save) io_.put(esearch_text(tag, c.uid, ret, nums, false, modseq));
  } else {
    std::string out = "* SEARCH";
    for (auto n : nums) out += " " + std::to_string(n);
    if (modseq && !nums.empty()) out += fmt::format(" (MODSEQ {})", *modseq);
    io_.put(out + "\r\n");
  }
  if (c.uid) update(false);
  ok(tag, c.uid ? "UID SEARCH completed" : "SEARCH completed");
}

}  // namespace imapd
