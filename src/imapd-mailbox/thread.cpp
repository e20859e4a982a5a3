// imapd-mailbox: THREAD (RFC 5256), ORDEREDSUBJECT and REFERENCES, over
// the messages a search program matches. Message-IDs, References and
// In-Reply-To come from untrusted headers: at most max_refs references a
// message count, a walk up the tree to refuse a loop stops after
// max_walk steps (treated as a loop), so time stays near n log n and
// memory linear in the messages. Trusts the session; returns the THREAD
// response.
#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "base/log.hpp"
#include "search.hpp"

namespace imapd {

namespace {

constexpr std::size_t max_refs = 32;     // the last ones of a References field
constexpr std::size_t max_walk = 2000;   // steps up the tree when refusing loops

struct Node {
  long msg = -1;  // index into the found messages, or -1 for a dummy
  long parent = -1;
  std::vector<long> kids;
};

// The msg-ids "<...>" of a field, in order.
std::vector<std::string> ids_of(std::string_view v) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = v.find('<', i)) != std::string_view::npos) {
    std::size_t e = v.find('>', i + 1);
    if (e == std::string_view::npos) break;
    std::string id;
    for (std::size_t k = i + 1; k < e; ++k)
      if (v[k] != ' ' && v[k] != '\t' && v[k] != '\r' && v[k] != '\n') id += v[k];
    if (!id.empty() && id.size() < 1000) out.push_back(std::move(id));
    i = e + 1;
  }
  return out;
}

struct Info {
  std::time_t date = 0;  // sent date, else the internal date
  std::string subject;   // base subject
  bool reply = false;
};

struct Threader {
  std::vector<Node> nodes;
  const std::vector<Info>& info;
  const std::vector<std::uint32_t>& nums;  // the number each found message is answered with

  // Sorting key of a node: its message, or a dummy's first child's.
  long rep(long n) const {
    for (std::size_t guard = 0; nodes[n].msg < 0 && !nodes[n].kids.empty() && guard < max_walk; ++guard)
      n = nodes[n].kids[0];
    return nodes[n].msg;
  }
  bool before(long a, long b) const {
    long x = rep(a), y = rep(b);
    if (x < 0 || y < 0) return x < y;
    if (info[x].date != info[y].date) return info[x].date < info[y].date;
    return x < y;  // found messages are in sequence order
  }
  bool ancestor(long a, long of) const {  // a is of, or above it (or too far to tell)
    for (std::size_t steps = 0; of >= 0; ++steps) {
      if (of == a || steps > max_walk) return true;
      of = nodes[of].parent;
    }
    return false;
  }
  void unlink(long c) {
    long p = nodes[c].parent;
    if (p < 0) return;
    auto& k = nodes[p].kids;
    k.erase(std::remove(k.begin(), k.end(), c), k.end());
    nodes[c].parent = -1;
  }
  void link(long c, long p) {
    nodes[c].parent = p;
    nodes[p].kids.push_back(c);
  }
  // Dummies without children go; a dummy's children move up, except a
  // root dummy with more than one child (RFC 5256 step 3). Children first,
  // without recursion: References can make a tree as deep as the folder.
  std::vector<long> prune(const std::vector<long>& list, bool root) {
    for (long n : below(list)) nodes[n].kids = pruned(nodes[n].kids, n, false);
    return pruned(list, -1, root);
  }
  std::vector<long> pruned(const std::vector<long>& list, long parent, bool root) {
    std::vector<long> out;
    for (long c : list) {
      if (nodes[c].msg >= 0 || (root && nodes[c].kids.size() > 1)) {
        out.push_back(c);
        continue;
      }
      for (long k : nodes[c].kids) {
        nodes[k].parent = parent;
        out.push_back(k);
      }
    }
    return out;
  }
  // Every node under the list, each after all of its descendants.
  std::vector<long> below(const std::vector<long>& list) const {
    std::vector<long> order, stack(list.begin(), list.end());
    while (!stack.empty()) {
      long n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (long k : nodes[n].kids) stack.push_back(k);
    }
    std::reverse(order.begin(), order.end());
    return order;
  }
  void sort_kids(long n) {
    for (long m : below({n})) {
      auto& k = nodes[m].kids;
      std::stable_sort(k.begin(), k.end(), [&](long a, long b) { return before(a, b); });
    }
  }
  // thread-members of n: its number, then one child inline or several
  // each in parentheses; a dummy writes only its children.
  void write(long n, std::string& out) const {
    for (;;) {
      const Node& node = nodes[n];
      if (node.msg >= 0) {
        out += std::to_string(nums[node.msg]);
        if (node.kids.empty()) return;
        out += ' ';
      }
      if (node.kids.size() == 1 && node.msg >= 0) {
        n = node.kids[0];  // a chain stays a loop, not a recursion
        continue;
      }
      for (long k : node.kids) {
        out += '(';
        write(k, out);
        out += ')';
      }
      return;
    }
  }
};

}  // namespace

void Session::cmd_thread(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto alg = p.atom();
  if (!alg || !p.sp()) return bad(tag, "Invalid THREAD algorithm");
  std::string a = upper(*alg);
  if (a != "REFERENCES" && a != "ORDEREDSUBJECT") return bad(tag, "Unknown THREAD algorithm");
  std::string error;
  auto prog = parse_program(p, error, true);
  if (!prog) {
    if (error.starts_with("NO [LIMIT]")) log::line("{}: THREAD past its limits", who_);
    io_.put(tag + " " + error + "\r\n");
    return;
  }
  if (auto why = rev2_refusal(*this, *prog); !why.empty()) return bad(tag, why);
  if (prog->modseq) enabled_.condstore = true;
  Searcher se{*this};
  auto found = se.run(*prog);

  std::vector<Info> info(found.size());
  std::vector<std::uint32_t> nums(found.size());
  std::vector<std::string> msgid(found.size());
  std::vector<std::vector<std::string>> refs(found.size());
  for (std::size_t k = 0; k < found.size(); ++k) {
    Msg& m = sel_->msgs[found[k]];
    nums[k] = c.uid ? m.uid : static_cast<std::uint32_t>(found[k] + 1);
    const Message* h = parsed(m, true);
    std::optional<std::time_t> t;
    if (h) {
      auto d = h->field("Date");
      if (d) t = rfc5322_time(*d);
      auto s = h->field("Subject");
      // Compared as i;ascii-casemap: "beta" and "re: Beta" are one thread.
      info[k].subject = s ? upper(base_subject(*s, &info[k].reply)) : "";
      if (a == "REFERENCES") {
        auto id = h->field("Message-ID");
        auto ids = id ? ids_of(*id) : std::vector<std::string>{};
        if (!ids.empty()) msgid[k] = ids[0];
        auto r = h->field("References");
        refs[k] = r ? ids_of(*r) : std::vector<std::string>{};
        if (refs[k].empty())
          if (auto irt = h->field("In-Reply-To")) {
            auto v = ids_of(*irt);
            if (!v.empty()) refs[k].push_back(v[0]);
          }
        if (refs[k].size() > max_refs) refs[k].erase(refs[k].begin(), refs[k].end() - max_refs);
      }
    }
    if (!t) t = internal_date(m);
    info[k].date = t.value_or(0);
  }

  Threader th{{}, info, nums};
  std::vector<long> roots;
  if (a == "ORDEREDSUBJECT") {
    std::vector<long> order(found.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<long>(k);
    std::stable_sort(order.begin(), order.end(), [&](long x, long y) {
      if (info[x].subject != info[y].subject) return info[x].subject < info[y].subject;
      if (info[x].date != info[y].date) return info[x].date < info[y].date;
      return x < y;
    });
    th.nodes.resize(found.size());
    for (std::size_t i = 0; i < order.size();) {
      long top = order[i];
      th.nodes[top].msg = top;
      roots.push_back(top);
      std::size_t j = i + 1;
      for (; j < order.size() && info[order[j]].subject == info[top].subject; ++j) {
        th.nodes[order[j]].msg = order[j];
        th.link(order[j], top);
      }
      i = j;
    }
    std::stable_sort(roots.begin(), roots.end(), [&](long x, long y) { return th.before(x, y); });
  } else {
    std::unordered_map<std::string, long> by_id;
    auto node_for = [&](const std::string& id) {
      auto it = by_id.find(id);
      if (it != by_id.end()) return it->second;
      th.nodes.emplace_back();
      long n = static_cast<long>(th.nodes.size()) - 1;
      by_id.emplace(id, n);
      return n;
    };
    th.nodes.reserve(found.size() * 2);
    for (std::size_t k = 0; k < found.size(); ++k) {
      long me;
      // No Message-ID, or one already taken: a node of its own.
      if (msgid[k].empty() || (by_id.count(msgid[k]) && th.nodes[by_id[msgid[k]]].msg >= 0)) {
        th.nodes.emplace_back();
        me = static_cast<long>(th.nodes.size()) - 1;
      } else {
        me = node_for(msgid[k]);
      }
      th.nodes[me].msg = static_cast<long>(k);
      long prev = -1;
      for (auto& r : refs[k]) {
        long n = node_for(r);
        if (prev >= 0 && n != prev && th.nodes[n].parent < 0 && !th.ancestor(n, prev)) th.link(n, prev);
        prev = n;
      }
      th.unlink(me);
      if (prev >= 0 && prev != me && !th.ancestor(me, prev)) th.link(me, prev);
    }
    for (std::size_t n = 0; n < th.nodes.size(); ++n)
      if (th.nodes[n].parent < 0) roots.push_back(static_cast<long>(n));
    roots = th.prune(roots, true);
    for (long r : roots) th.nodes[r].parent = -1, th.sort_kids(r);
    std::stable_sort(roots.begin(), roots.end(), [&](long x, long y) { return th.before(x, y); });
    // Step 5: roots with one base subject gathered.
    auto subj = [&](long n) -> const Info* {
      long m = th.rep(n);
      return m < 0 || info[m].subject.empty() ? nullptr : &info[m];
    };
    std::unordered_map<std::string, long> table;
    for (long r : roots) {
      const Info* s = subj(r);
      if (!s) continue;
      auto it = table.find(s->subject);
      if (it == table.end()) table.emplace(s->subject, r);
      else {
        long t = it->second;
        bool r_dummy = th.nodes[r].msg < 0, t_dummy = th.nodes[t].msg < 0;
        if ((r_dummy && !t_dummy) || (!r_dummy && !t_dummy && info[th.nodes[t].msg].reply && !s->reply))
          it->second = r;
      }
    }
    std::vector<long> kept;
    std::unordered_map<long, long> wrapped;  // a root not yet passed, now under a new dummy
    for (long r : roots) {
      if (th.nodes[r].parent >= 0) {
        if (auto w = wrapped.find(r); w != wrapped.end()) kept.push_back(w->second);
        continue;
      }
      const Info* s = subj(r);
      long t = s ? table[s->subject] : r;
      if (t == r) {
        kept.push_back(r);
        continue;
      }
      bool r_dummy = th.nodes[r].msg < 0, t_dummy = th.nodes[t].msg < 0;
      if (r_dummy && t_dummy) {
        for (long k : th.nodes[r].kids) th.nodes[k].parent = -1, th.link(k, t);
        th.nodes[r].kids.clear();
      } else if (t_dummy) {
        th.link(r, t);
      } else if (r_dummy) {
        th.link(t, r);  // cannot happen: a dummy is preferred in the table
      } else if (!info[th.nodes[t].msg].reply && s->reply) {
        th.link(r, t);
      } else {
        th.nodes.emplace_back();
        long d = static_cast<long>(th.nodes.size()) - 1;
        th.link(t, d);
        th.link(r, d);
        bool passed = false;
        for (auto& k : kept)
          if (k == t) k = d, passed = true;
        if (!passed) wrapped[t] = d;
        table[s->subject] = d;
      }
    }
    roots = kept;
    for (long r : roots) th.sort_kids(r);
  }
  std::string out = "* THREAD ";
  for (long r : roots) {
    out += '(';
    th.write(r, out);
    out += ')';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  io_.put(out + "\r\n");
  if (c.uid) update(false);
  ok(tag, c.uid ? "UID THREAD completed" : "THREAD completed");
}

}  // namespace imapd
