// imapd-mailbox: SEARCH (RFC 3501 section 6.4.4), every key, strings
// matched as case-insensitive substrings of the header values (with
// RFC 2047 words decoded) or of the raw text, in time linear in text and
// string (imap_parse's icontains). The keys a client may send are bounded
// in number and string size (session.hpp); past a bound the answer is
// NO [LIMIT].
#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

namespace {

struct Key {
  enum Kind {
    all, and_, or_, not_, flag_set, flag_unset, kw_set, kw_unset, recent, new_, old, header, body, text,
    before, on, since, sent_before, sent_on, sent_since, larger, smaller, uid, seq
  };
  Kind kind = all;
  std::uint8_t flag = 0;
  std::string a, b;
  std::time_t t = 0;
  std::uint64_t n = 0;
  SeqSet set;
  std::vector<Key> kids;
};

// How far the parse got: keys so far, and whether a bound (not the
// syntax) stopped it.
struct Budget {
  std::size_t keys = 0;
  bool limit = false;
};

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
  if (u == "RECENT") return k.kind = Key::recent, true;
  if (u == "NEW") return k.kind = Key::new_, true;
  if (u == "OLD") return k.kind = Key::old, true;
  if (u == "KEYWORD" || u == "UNKEYWORD") {
    k.kind = u == "KEYWORD" ? Key::kw_set : Key::kw_unset;
    if (!p.sp()) return false;
    auto a = p.atom();
    if (!a) return false;
    k.a = *a;
    return true;
  }
  if (u == "FROM" || u == "TO" || u == "CC" || u == "BCC" || u == "SUBJECT") {
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
  if (u == "LARGER" || u == "SMALLER") {
    k.kind = u == "LARGER" ? Key::larger : Key::smaller;
    if (!p.sp()) return false;
    auto n = p.number64();
    if (!n) return false;
    k.n = *n;
    return true;
  }
  if (u == "UID") {
    if (!p.sp()) return false;
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
  if (k.kind == Key::header || k.kind == Key::sent_before || k.kind == Key::sent_on || k.kind == Key::sent_since) n = 1;
  if (k.kind == Key::body || k.kind == Key::text) n = 2;
  for (auto& c : k.kids) n = std::max(n, needs(c));
  return n;
}

}  // namespace

struct Searcher {
  Session& s;
  int need;
  std::uint32_t max_uid;

  bool eval(const Key& k, Msg& m, std::size_t seq) {
    switch (k.kind) {
      case Key::all: return true;
      case Key::and_:
        for (auto& c : k.kids)
          if (!eval(c, m, seq)) return false;
        return true;
      case Key::or_: return eval(k.kids[0], m, seq) || eval(k.kids[1], m, seq);
      case Key::not_: return !eval(k.kids[0], m, seq);
      case Key::flag_set: return (m.flags.sys & k.flag) != 0;
      case Key::flag_unset: return (m.flags.sys & k.flag) == 0;
      case Key::kw_set:
      case Key::kw_unset: {
        bool has = false;
        for (std::size_t i = 0; i < s.sel_->keywords.size(); ++i)
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
          if (icontains(decode_words(v), k.b) || icontains(v, k.b)) return true;
        return false;
      }
      case Key::body: return icontains(msg->body(), k.a);
      case Key::text: return icontains(msg->text(), k.a) || icontains(decode_words(msg->header()), k.a);
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
};

void Session::cmd_search(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool uid = c.uid;
  std::size_t save = p.pos();
  auto w = p.atom();
  if (w && upper(*w) == "CHARSET") {
    auto cs = p.sp() ? p.astring() : std::nullopt;
    if (!cs || !p.sp()) return bad(tag, "Bad CHARSET");
    std::string u = upper(*cs);
    if (u != "UTF-8" && u != "US-ASCII") return no(tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
  } else if (w && upper(*w) == "RETURN") {
    return bad(tag, "ESEARCH is not supported");
  } else {
    p.set_pos(save);
  }
  Key root;
  root.kind = Key::and_;
  Budget budget;
  if (!parse_keys(p, root.kids, 0, false, budget)) {
    if (!budget.limit) return bad(tag, "Invalid search criteria");
    log::line("{}: SEARCH past its limits", who_);
    return no(tag, fmt::format("[LIMIT] At most {} search keys and {} bytes a search string", max_search_keys,
                               max_search_string));
  }
  std::uint32_t max_uid = sel_->msgs.empty() ? 0 : sel_->msgs.back().uid;
  normalize_sets(root, static_cast<std::uint32_t>(sel_->msgs.size()), max_uid);
  Searcher se{*this, needs(root), max_uid};
  std::string out = "* SEARCH";
  for (std::size_t i = 0; i < sel_->msgs.size(); ++i) {
    Msg& m = sel_->msgs[i];
    if (m.gone) continue;
    if (se.eval(root, m, i + 1)) out += " " + std::to_string(uid ? m.uid : i + 1);
  }
  io_.put(out + "\r\n");
  if (uid) update(false);
  ok(tag, uid ? "UID SEARCH completed" : "SEARCH completed");
}

}  // namespace imapd
