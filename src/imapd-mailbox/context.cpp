// imapd-mailbox: CONTEXT=SEARCH (RFC 5267): SEARCH RETURN (UPDATE) keeps
// the search, and whenever the folder's view changes (another session's
// flags, a delivery, this session's STORE or EXPUNGE) its result is
// computed again and the difference sent as ESEARCH ADDTO and REMOVEFROM;
// CANCELUPDATE ends it. At most max_search_contexts a selection, each
// computed again only when the view's UIDs, flags or MODSEQs changed (a
// fingerprint of them), so an idle NOOP costs one pass over the view.
// Trusts the session; returns untagged responses.
#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "search.hpp"

namespace imapd {

namespace {

std::uint64_t fingerprint(const std::vector<Msg>& msgs) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a's basis: a cheap change detector, not a hash for safety
  auto mix = [&](std::uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  for (auto& m : msgs) {
    if (m.gone) continue;
    mix(m.uid);
    mix(m.flags.sys);
    mix(m.flags.kw);
    mix(m.modseq);
    mix(m.recent);
  }
  return h;
}

}  // namespace

bool add_context(Session& s, const std::string& tag, bool uid, const Program& prog,
                 const std::vector<std::size_t>& found) {
  auto& sel = Searcher::sel(s);
  if (!sel.contexts) sel.contexts = std::make_shared<SearchContexts>();
  auto& list = sel.contexts->list;
  list.erase(std::remove_if(list.begin(), list.end(), [&](const SearchContext& c) { return c.tag == tag; }),
             list.end());
  if (list.size() >= max_search_contexts) return false;
  SearchContext c;
  c.tag = tag;
  c.uid = uid;
  c.prog = prog;
  for (auto i : found) c.result.push_back(sel.msgs[i].uid);
  c.fingerprint = fingerprint(sel.msgs);
  list.push_back(std::move(c));
  return true;
}

void Session::context_updates() {
  if (!sel_ || !sel_->contexts || sel_->contexts->list.empty()) return;
  std::uint64_t fp = fingerprint(sel_->msgs);
  auto& msgs = sel_->msgs;
  auto seq_of = [&](std::uint32_t uid) -> std::uint32_t {
    auto it = std::lower_bound(msgs.begin(), msgs.end(), uid, [](const Msg& m, std::uint32_t u) { return m.uid < u; });
    return it != msgs.end() && it->uid == uid ? static_cast<std::uint32_t>(it - msgs.begin() + 1) : 0;
  };
  for (auto& c : sel_->contexts->list) {
    if (c.fingerprint == fp) continue;
    Program copy = c.prog;
    Searcher se{*this};
    std::vector<std::uint32_t> now;
    for (auto i : se.run(copy)) now.push_back(msgs[i].uid);
    std::vector<std::uint32_t> added, removed;
    std::set_difference(now.begin(), now.end(), c.result.begin(), c.result.end(), std::back_inserter(added));
    std::set_difference(c.result.begin(), c.result.end(), now.begin(), now.end(), std::back_inserter(removed));
    auto numbers = [&](const std::vector<std::uint32_t>& uids) {
      std::vector<std::uint32_t> out;
      for (auto u : uids) {
        if (c.uid) {
          out.push_back(u);
          continue;
        }
        // Updates follow the EXPUNGE responses and use the numbers after
        // them (RFC 5267 4.2): an expunged message has none, and its
        // EXPUNGE already took it out of the client's result.
        if (std::uint32_t n = seq_of(u)) out.push_back(n);
      }
      std::sort(out.begin(), out.end());
      return out;
    };
    std::string head = "* ESEARCH (TAG " + quote(c.tag) + ")" + (c.uid ? " UID" : "");
    if (auto r = numbers(removed); !r.empty()) io_.put(fmt::format("{} REMOVEFROM (0 {})\r\n", head, set_text(r)));
    if (auto a = numbers(added); !a.empty()) io_.put(fmt::format("{} ADDTO (0 {})\r\n", head, set_text(a)));
    c.result = std::move(now);
    c.fingerprint = fp;
  }
}

void Session::cmd_cancelupdate(Cmd& c) {
  // CANCELUPDATE "tag" *(SP "tag")
  std::vector<std::string> tags;
  for (;;) {
    auto t = c.p.string();
    if (!t) return bad(c.tag, "CANCELUPDATE needs the tags of updating searches");
    tags.push_back(*t);
    if (c.p.eol()) break;
    if (!c.p.sp()) return bad(c.tag, "Invalid CANCELUPDATE arguments");
  }
  if (sel_->contexts) {
    auto& list = sel_->contexts->list;
    for (auto& t : tags)
      list.erase(std::remove_if(list.begin(), list.end(), [&](const SearchContext& x) { return x.tag == t; }),
                 list.end());
  }
  ok(c.tag, "CANCELUPDATE completed");
}

}  // namespace imapd
