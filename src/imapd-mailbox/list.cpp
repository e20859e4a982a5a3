// list: LIST and LSUB of imapd-mailbox (RFC 3501 section 6.3.8/6.3.9)
// with LIST-EXTENDED (RFC 5258: selection options SUBSCRIBED, REMOTE,
// RECURSIVEMATCH, SPECIAL-USE; return options SUBSCRIBED, CHILDREN,
// SPECIAL-USE, STATUS of RFC 5819), answered as Dovecot answers them on a
// Maildir++ tree. Patterns and options come from the network: unknown
// options are BAD, patterns are bounded (max_list_patterns) and matched
// by ListMatcher in linear time; names come from the user's own folder
// tree and subscriptions file. Writes untagged LIST/LSUB (and STATUS)
// responses and the tagged answer. See imapd(8).
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "imap/imap_pattern.hpp"
#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

namespace {

struct ListOptions {
  bool lsub = false;
  bool extended = false;      // selection or return options were given (Dovecot's rule)
  bool sel_subscribed = false;
  bool sel_special = false;
  bool recursive = false;
  bool ret_subscribed = false;
  bool ret_children = false;
  bool ret_special = false;
  std::vector<std::string> status_items;
};

bool has(const std::vector<std::string>& sorted, const std::string& n) {
  return std::binary_search(sorted.begin(), sorted.end(), n);
}

// True when some name in sorted starts with n + ".".
bool has_child(const std::vector<std::string>& sorted, const std::string& n) {
  std::string prefix = n + ".";
  auto k = std::lower_bound(sorted.begin(), sorted.end(), prefix);
  return k != sorted.end() && k->starts_with(prefix);
}

}  // namespace

void Session::cmd_list(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  ListOptions o;
  o.lsub = c.verb == "LSUB";
  if (!o.lsub && p.accept('(')) {
    o.extended = true;
    bool other = false, remote = false;
    while (!p.accept(')')) {
      auto a = p.atom();
      if (!a) return bad(tag, "Bad selection options");
      std::string u = upper(*a);
      if (u == "SUBSCRIBED") o.sel_subscribed = o.ret_subscribed = other = true;
      else if (u == "SPECIAL-USE") o.sel_special = o.ret_special = other = true;
      else if (u == "REMOTE") remote = true;  // no remote mailboxes here: nothing more to list
      else if (u == "RECURSIVEMATCH") o.recursive = true;
      else return bad(tag, "Unknown selection option " + log::printable(u, 40));
      if (p.peek() != ')' && !p.sp()) return bad(tag, "Bad selection options");
    }
    (void)remote;
    // RFC 5258 section 3: RECURSIVEMATCH only refines another selection.
    if (o.recursive && !other) return bad(tag, "RECURSIVEMATCH needs another selection option");
    if (!p.sp()) return bad(tag, "Bad arguments");
  }
  auto ref = p.astring();
  if (!ref || !p.sp()) return bad(tag, "Bad arguments");
  std::vector<std::string> patterns;
  bool several = !o.lsub && p.accept('(');
  while (!several || !p.accept(')')) {
    auto pat = p.list_mailbox();
    if (!pat) return bad(tag, "Bad pattern");
    if (patterns.size() >= max_list_patterns || ref->size() + pat->size() > max_list_pattern) {
      log::line("{}: LIST past its limits", who_);
      return no(tag, fmt::format("[LIMIT] At most {} patterns of {} bytes", max_list_patterns, max_list_pattern));
    }
    patterns.push_back(*pat);
    if (!several) break;
    if (p.peek() != ')' && !p.sp()) return bad(tag, "Bad pattern list");
  }
  if (several && patterns.empty()) return bad(tag, "Empty pattern list");
  if (!o.lsub && p.sp()) {
    auto kw = p.atom();
    if (!kw || upper(*kw) != "RETURN" || !p.sp() || !p.accept('(')) return bad(tag, "Bad return options");
    o.extended = true;
    while (!p.accept(')')) {
      auto a = p.atom();
      if (!a) return bad(tag, "Bad return options");
      std::string u = upper(*a);
      if (u == "SUBSCRIBED") o.ret_subscribed = true;
      else if (u == "CHILDREN") o.ret_children = true;
      else if (u == "SPECIAL-USE") o.ret_special = true;
      else if (u == "STATUS") {
        if (!o.status_items.empty() || !p.sp() || !p.accept('(')) return bad(tag, "Bad STATUS return option");
        while (!p.accept(')')) {
          auto i = p.atom();
          if (!i || o.status_items.size() >= 16) return bad(tag, "Bad STATUS items");
          std::string iu = upper(*i);
          if (!status_item_known(iu)) return bad(tag, "Unknown status item " + log::printable(iu, 40));
          o.status_items.push_back(iu);
          if (p.peek() != ')' && !p.sp()) return bad(tag, "Bad STATUS items");
        }
        if (o.status_items.empty()) return bad(tag, "Empty STATUS items");
      } else {
        return bad(tag, "Unknown return option " + log::printable(u, 40));
      }
      if (p.peek() != ')' && !p.sp()) return bad(tag, "Bad return options");
    }
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  const char* verb = o.lsub ? "LSUB" : "LIST";
  // RFC 3501: LIST "" "" asks for the hierarchy separator only.
  if (!o.extended && patterns.size() == 1 && patterns[0].empty()) {
    io_.put(fmt::format("* {} (\\Noselect) \".\" \"\"\r\n", verb));
    return ok(tag, std::string(verb) + " completed");
  }
  if (!o.extended) o.ret_children = o.ret_special = !o.lsub;
  // IMAP4rev2 has LIST-EXTENDED built in: children are always told, and a
  // name that is no mailbox is \NonExistent (RFC 9051 6.3.9, 7.3.1).
  if (enabled_.rev2 && !o.lsub) o.ret_children = true;
  ListMatcher matcher;
  bool percent_last = false;
  for (auto& pat : patterns) {
    // In share mode the patterns are matched against the names as shown.
    std::string full = share_ ? *ref + pat : canonical(mailbox_in(*ref + pat));
    percent_last = percent_last || (!full.empty() && full.back() == '%');
    matcher.add(full);
  }
  // Sorted, so that "exists", "implied" and "has children" are binary
  // searches: LIST costs names x log(names), never names x names.
  auto all = list_folders(root_);
  if (share_)  // only what the requester may see ("l")
    all.erase(std::remove_if(all.begin(), all.end(), [&](const std::string& f) { return !has_right(rights_on(f), 'l'); }),
              all.end());
  std::sort(all.begin(), all.end());
  auto subs = share_ ? std::vector<std::string>{} : read_subscriptions(root_);
  std::sort(subs.begin(), subs.end());
  subs.erase(std::unique(subs.begin(), subs.end()), subs.end());
  // Parents that exist only as a prefix of a folder (Maildir++ has no
  // directory for them).
  std::vector<std::string> implied;
  for (auto& f : all)
    for (std::size_t d = f.find('.'); d != std::string::npos; d = f.find('.', d + 1))
      if (std::string parent = f.substr(0, d); !has(all, parent)) implied.push_back(parent);
  std::sort(implied.begin(), implied.end());
  implied.erase(std::unique(implied.begin(), implied.end()), implied.end());

  bool by_subscription = o.lsub || o.sel_subscribed;
  // RFC 5258 section 3.5 (and LSUB's \Noselect of RFC 3501 6.3.9): a name
  // that matches but is not subscribed, with a subscribed descendant the
  // patterns do not reach, is listed for that descendant's sake.
  std::vector<std::string> childinfo;
  if ((o.lsub && percent_last) || (o.sel_subscribed && o.recursive)) {
    for (auto& s : subs) {
      if (matcher.matches(s)) continue;
      for (std::size_t d = s.find('.'); d != std::string::npos; d = s.find('.', d + 1))
        if (std::string a = s.substr(0, d); !has(subs, a) && matcher.matches(a)) childinfo.push_back(a);
    }
    std::sort(childinfo.begin(), childinfo.end());
    childinfo.erase(std::unique(childinfo.begin(), childinfo.end()), childinfo.end());
  }
  std::vector<std::string> names;
  if (by_subscription) {
    names = subs;
    names.insert(names.end(), childinfo.begin(), childinfo.end());
  } else {
    names = all;
    names.insert(names.end(), implied.begin(), implied.end());
  }
  std::sort(names.begin(), names.end(), [](const std::string& x, const std::string& y) {
    if (is_inbox(x) != is_inbox(y)) return is_inbox(x);
    return x < y;
  });
  for (auto& n : names) {
    if (!matcher.matches(share_ ? share_->prefix + n : n)) continue;
    if (share_ && is_inbox(n) && !has(all, n)) continue;
    bool exists = has(all, n) || (is_inbox(n) && !share_);
    bool subscribed = has(subs, n);
    const char* su = special_use(n);
    if (o.sel_special && !(su && exists)) continue;
    std::vector<std::string> attrs;
    if (o.lsub) {
      if (!subscribed) attrs.push_back("\\Noselect");
    } else {
      if (o.ret_subscribed && subscribed) attrs.push_back("\\Subscribed");
      if (!exists) attrs.push_back(o.extended || enabled_.rev2 ? "\\NonExistent" : "\\Noselect");
      if (o.ret_children && (exists || has(implied, n)))
        attrs.push_back(has_child(all, n) ? "\\HasChildren" : "\\HasNoChildren");
      if (o.ret_special && su && exists) attrs.push_back(su);
    }
    std::string a;
    for (auto& x : attrs) a += (a.empty() ? "" : " ") + x;
    std::string extra;
    if (!o.lsub && !subscribed && has(childinfo, n)) extra = " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    io_.put(fmt::format("* {} ({}) \".\" {}{}\r\n", verb, a, mailbox_out(n), extra));
    if (!o.status_items.empty() && exists && has_right(rights_on(n), 'r'))
      if (auto st = status_of(n, o.status_items)) io_.put(*st);
  }
  if (!share_) {
    std::vector<std::string> full;
    for (auto& pat : patterns) full.push_back(*ref + pat);
    list_shared(raw_, full, o.lsub);
  }
  ok(tag, std::string(verb) + " completed");
}

std::string Session::list_line(const std::string& name, const std::string& extra) {
  auto all = list_folders(root_);
  std::sort(all.begin(), all.end());
  std::string a = has_child(all, name) ? "\\HasChildren" : "\\HasNoChildren";
  if (const char* su = special_use(name)) a += std::string(" ") + su;
  return fmt::format("* LIST ({}) \".\" {}{}\r\n", a, mailbox_out(name), extra);
}

}  // namespace imapd
