// imapd-mailbox: CONDSTORE and QRESYNC (RFC 7162) and ENABLE (RFC 5161).
// The MODSEQs come from the folder state (imap_store: postern-state);
// this file turns them into the protocol: ENABLE, SELECT's (CONDSTORE)
// and (QRESYNC ...) parameters and their resync answer, FETCH's
// (CHANGEDSINCE n [VANISHED]) modifier, STORE's (UNCHANGEDSINCE n). It
// trusts nothing from the client: every number is parsed and bounded,
// every set checked; a bad one is answered BAD by the caller.
#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

namespace {

// The UIDs of set (normalized) up to last that are not in msgs, as an
// IMAP set: what a server may name in VANISHED (EARLIER) when its expunge
// history cannot say which went away since a MODSEQ (RFC 7162 3.2.5.2).
// Written from ranges, so a set up to 4294967295 costs no more than the
// messages there are.
std::string absent_uids(const SeqSet& set, std::uint32_t last, const std::vector<Msg>& msgs) {
  std::string out;
  auto add = [&](std::uint32_t a, std::uint32_t b) {
    if (!out.empty()) out += ',';
    out += a == b ? fmt::format("{}", a) : fmt::format("{}:{}", a, b);
  };
  auto it = msgs.begin();
  for (auto [lo, hi] : set) {
    lo = std::max<std::uint32_t>(lo, 1);
    if (lo > last) break;
    hi = std::min(hi, last);
    std::uint32_t from = lo;  // the first UID of the range not yet accounted for
    it = std::lower_bound(it, msgs.end(), lo, [](const Msg& m, std::uint32_t u) { return m.uid < u; });
    for (; it != msgs.end() && it->uid <= hi; ++it) {
      if (it->uid > from) add(from, it->uid - 1);
      from = it->uid + 1;
    }
    if (from <= hi) add(from, hi);
  }
  return out;
}

// The UIDs of set (normalized) that went away: from the expunge history
// since a MODSEQ when it can tell (since), else every absent one.
std::string vanished_text(const std::optional<std::vector<std::uint32_t>>& since, const SeqSet& set,
                          std::uint32_t last, const std::vector<Msg>& msgs) {
  if (!since) return absent_uids(set, last, msgs);
  std::vector<std::uint32_t> gone;
  for (auto u : *since) {
    auto it = std::lower_bound(msgs.begin(), msgs.end(), u, [](const Msg& m, std::uint32_t v) { return m.uid < v; });
    if (in_set(set, u) && !(it != msgs.end() && it->uid == u)) gone.push_back(u);
  }
  return gone.empty() ? std::string() : uid_set_text(gone);
}

}  // namespace

// -- ENABLE --------------------------------------------------------------------

bool Session::advertised(std::string_view cap) {
  std::string all = " " + capabilities() + " ";
  return all.find(" " + std::string(cap) + " ") != std::string::npos;
}

void Session::condstore_on() {
  if (enabled_.condstore) return;
  enabled_.condstore = true;
  // RFC 7162 3.1: the first CONDSTORE-enabling command with a folder
  // selected tells its HIGHESTMODSEQ before it completes.
  if (sel_) io_.put(fmt::format("* OK [HIGHESTMODSEQ {}] Highest\r\n", sel_->folder->highestmodseq()));
}

void Session::cmd_enable(Cmd& c) {
  Parser& p = c.p;
  if (!p.sp()) return bad(c.tag, "ENABLE needs capability names");
  std::string enabled;
  do {
    auto name = p.atom();
    if (!name) return bad(c.tag, "Invalid capability name");
    std::string u = upper(*name);
    // Only what is advertised can be enabled; the rest is ignored (RFC 5161 3.1).
    if (u == "CONDSTORE" && advertised("CONDSTORE") && !enabled_.condstore) {
      condstore_on();
      enabled += " CONDSTORE";
    } else if (u == "QRESYNC" && advertised("QRESYNC") && !enabled_.qresync) {
      condstore_on();  // QRESYNC implies CONDSTORE (RFC 7162 3.2.3)
      enabled_.qresync = true;
      enabled += " QRESYNC";
    } else if (u == "UTF8=ACCEPT" && advertised("UTF8=ACCEPT") && !enabled_.utf8) {
      enabled_.utf8 = true;
      enabled += " UTF8=ACCEPT";
    } else if (u == "IMAP4REV2" && advertised("IMAP4rev2") && !enabled_.rev2) {
      enabled_.rev2 = true;
      enabled += " IMAP4rev2";
    }
  } while (p.sp());
  if (!p.eol()) return bad(c.tag, "Unexpected arguments");
  io_.put("* ENABLED" + enabled + "\r\n");
  ok(c.tag, "ENABLE completed");
}

// -- SELECT (CONDSTORE) / (QRESYNC (...)) -------------------------------------

bool Session::parse_select_params(Parser& p, SelectParams& out, std::string& why) {
  if (!p.accept('(')) return why = "Expected select parameters", false;
  do {
    auto name = p.atom();
    if (!name) return why = "Invalid select parameter", false;
    std::string u = upper(*name);
    if (u == "CONDSTORE" && advertised("CONDSTORE")) {
      out.condstore = true;
    } else if (u == "QRESYNC" && advertised("QRESYNC")) {
      if (!enabled_.qresync) return why = "QRESYNC is not enabled", false;
      out.qresync = true;
      std::optional<std::uint64_t> v, m;
      if (!p.sp() || !p.accept('(') || !(v = p.number64()) || !p.sp() || !(m = p.number64()) || *v == 0 ||
          *v > 0xffffffffu || *m == 0)
        return why = "Invalid QRESYNC parameters", false;
      out.validity = static_cast<std::uint32_t>(*v);
      out.modseq = *m;
      if (p.sp()) {
        if (p.peek() != '(') {
          auto known = parse_seqset(p.word());
          if (!known) return why = "Invalid known UIDs", false;
          out.known = std::move(*known);
        }
        if ((out.known ? p.sp() : true) && p.accept('(')) {  // the sequence match: a hint, checked, unused
          if (!parse_seqset(p.word()) || !p.sp() || !parse_seqset(p.word()) || !p.accept(')'))
            return why = "Invalid sequence match data", false;
        }
      }
      if (!p.accept(')')) return why = "Invalid QRESYNC parameters", false;
    } else {
      return why = "Unknown select parameter " + log::printable(*name, 40), false;
    }
  } while (p.sp());
  if (!p.accept(')')) return why = "Expected ')'", false;
  return true;
}

void Session::qresync_select(const SelectParams& q) {
  auto& s = *sel_;
  if (q.validity != s.folder->uidvalidity()) return;  // the client starts over
  std::uint32_t next = s.folder->uidnext();
  SeqSet known = q.known ? normalize(*q.known, next ? next - 1 : 0) : SeqSet{{1, 0xffffffffu}};
  auto since = s.folder->vanished_since(q.modseq);
  if (!since) log::line("{}: expunge history does not reach MODSEQ {}; naming every absent UID", who_, q.modseq);
  std::string gone_text = vanished_text(since, known, next ? next - 1 : 0, s.msgs);
  if (!gone_text.empty()) io_.put("* VANISHED (EARLIER) " + gone_text + "\r\n");
  for (std::size_t i = 0; i < s.msgs.size(); ++i) {
    const Msg& m = s.msgs[i];
    if (m.modseq > q.modseq && in_set(known, m.uid))
      io_.put(fmt::format("* {} FETCH (UID {} FLAGS ({}) MODSEQ ({}))\r\n", i + 1, m.uid, flags_text(m), m.modseq));
  }
}

// -- FETCH (CHANGEDSINCE n [VANISHED]) -----------------------------------------

bool Session::parse_fetch_modifiers(Parser& p, bool uid, FetchMods& out, std::string& why) {
  if (!p.accept('(')) return why = "Expected FETCH modifiers", false;
  do {
    auto name = p.atom();
    if (!name) return why = "Invalid FETCH modifier", false;
    std::string u = upper(*name);
    if (u == "CHANGEDSINCE" && advertised("CONDSTORE")) {
      std::optional<std::uint64_t> n;
      if (!p.sp() || !(n = p.number64())) return why = "Invalid CHANGEDSINCE modseq", false;
      out.changedsince = *n;
    } else if (u == "VANISHED" && uid && advertised("QRESYNC")) {
      if (!enabled_.qresync) return why = "QRESYNC is not enabled", false;
      out.vanished = true;
    } else {
      return why = "Unknown FETCH modifier", false;
    }
  } while (p.sp());
  if (!p.accept(')')) return why = "Expected ')'", false;
  if (out.vanished && !out.changedsince) return why = "VANISHED used without CHANGEDSINCE", false;
  return true;
}

void Session::apply_changedsince(std::vector<std::size_t>& which, const FetchMods& mods, std::string_view set) {
  if (!mods.changedsince) return;
  condstore_on();
  auto& s = *sel_;
  if (mods.vanished) {
    // The UIDs asked for that are gone since then (RFC 7162 3.2.6).
    auto parsed = parse_seqset(set);
    std::uint32_t next = s.folder->uidnext();
    SeqSet asked = parsed ? normalize(*parsed, next ? next - 1 : 0) : SeqSet{};
    std::string gone_text =
        vanished_text(s.folder->vanished_since(*mods.changedsince), asked, next ? next - 1 : 0, s.msgs);
    if (!gone_text.empty()) io_.put("* VANISHED (EARLIER) " + gone_text + "\r\n");
  }
  std::erase_if(which, [&](std::size_t i) { return s.msgs[i].modseq <= *mods.changedsince; });
}

// -- STORE (UNCHANGEDSINCE n) --------------------------------------------------

bool Session::parse_store_modifiers(Parser& p, std::optional<std::uint64_t>& unchangedsince, std::string& why) {
  if (!p.accept('(')) return why = "Expected STORE modifiers", false;
  do {
    auto name = p.atom();
    if (!name) return why = "Invalid STORE modifier", false;
    std::optional<std::uint64_t> n;
    if (upper(*name) != "UNCHANGEDSINCE" || !advertised("CONDSTORE")) return why = "Unknown STORE modifier", false;
    if (!p.sp() || !(n = p.number64())) return why = "Invalid UNCHANGEDSINCE modseq", false;
    unchangedsince = *n;
  } while (p.sp());
  if (!p.accept(')')) return why = "Expected ')'", false;
  return true;
}

bool Session::has_uid(std::uint32_t uid) const {
  auto& v = sel_->msgs;
  auto it = std::lower_bound(v.begin(), v.end(), uid, [](const Msg& m, std::uint32_t u) { return m.uid < u; });
  return it != v.end() && it->uid == uid;
}

std::string Session::modseq_item(const Msg& m) const {
  return enabled_.condstore ? fmt::format(" MODSEQ ({})", m.modseq) : std::string();
}

}  // namespace imapd
