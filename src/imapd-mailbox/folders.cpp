// folders: the folder commands of imapd-mailbox: CREATE, DELETE, RENAME,
// SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB (with LIST-EXTENDED's selection and
// return options) and STATUS. Names arrive in modified UTF-7 and are
// checked before they become directories (imap_store). See imapd(8).
#include "session.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "imap/imap_pattern.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"

namespace imapd {

void Session::cmd_create(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad arguments");
  std::string n = canonical(*name);
  while (!n.empty() && n.back() == '.') n.pop_back();
  if (is_inbox(n)) return no(tag, "[ALREADYEXISTS] INBOX always exists");
  if (!valid_name(n)) return no(tag, "[CANNOT] Invalid mailbox name");
  if (!create_folder(root_, n)) {
    if (errno == EEXIST) return no(tag, "[ALREADYEXISTS] Mailbox exists");
    log::line("{}: cannot create {}: {}", who_, log::printable(n), std::strerror(errno));
    return no(tag, "[SERVERBUG] Cannot create the mailbox");
  }
  ok(tag, "CREATE completed");
}

void Session::cmd_delete(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad arguments");
  std::string n = canonical(*name);
  if (is_inbox(n)) return no(tag, "[CANNOT] INBOX cannot be deleted");
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] No such mailbox");
  auto all = list_folders(root_);
  if (std::find(all.begin(), all.end(), n) == all.end()) return no(tag, "[NONEXISTENT] No such mailbox");
  for (auto& f : all)
    if (f.size() > n.size() && f.starts_with(n) && f[n.size()] == '.')
      return no(tag, "[INUSE] Mailbox has children; delete them first");
  if (sel_ && sel_->name == n) deselect();
  if (!delete_folder(root_, n)) {
    log::line("{}: cannot delete {}: {}", who_, log::printable(n), std::strerror(errno));
    return no(tag, "[SERVERBUG] Cannot delete the mailbox");
  }
  ok(tag, "DELETE completed");
}

void Session::cmd_rename(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto from = p.astring();
  if (!from || !p.sp()) return bad(tag, "Bad arguments");
  auto to = p.astring();
  if (!to || !p.eol()) return bad(tag, "Bad arguments");
  std::string a = canonical(*from), b = canonical(*to);
  while (!b.empty() && b.back() == '.') b.pop_back();
  if (!valid_name(a)) return no(tag, "[NONEXISTENT] No such mailbox");
  if (!valid_name(b) || is_inbox(b)) return no(tag, "[CANNOT] Invalid new name");
  auto all = list_folders(root_);
  if (std::find(all.begin(), all.end(), a) == all.end()) return no(tag, "[NONEXISTENT] No such mailbox");
  if (std::find(all.begin(), all.end(), b) != all.end()) return no(tag, "[ALREADYEXISTS] Target exists");
  if (b.starts_with(a + ".")) return no(tag, "[CANNOT] Cannot rename a mailbox into itself");
  if (is_inbox(a)) {
    // RFC 3501: INBOX's messages move to the new mailbox; INBOX stays, empty.
    if (!create_folder(root_, b)) return no(tag, "[CANNOT] Cannot create the target");
    std::string src = root_, dst = folder_dir(root_, b);
    std::vector<Entry> entries;
    std::string err;
    Folder inbox(src);
    if (!inbox.sync(entries, false, err)) return no(tag, "[SERVERBUG] Cannot read INBOX");
    for (auto& e : entries) ::rename((src + "/cur/" + e.name).c_str(), (dst + "/cur/" + e.name).c_str());
    ::rename((src + "/dovecot-keywords").c_str(), (dst + "/dovecot-keywords").c_str());
    fsync_dir(dst + "/cur");
    fsync_dir(src + "/cur");
    inbox.sync(entries, false, err);
    if (sel_ && is_inbox(sel_->name)) update(true);
    return ok(tag, "RENAME completed");
  }
  if (sel_ && (sel_->name == a || sel_->name.starts_with(a + "."))) deselect();
  std::vector<std::string> moving;
  for (auto& f : all)
    if (f == a || f.starts_with(a + ".")) moving.push_back(f);
  for (auto& f : moving) {
    std::string nn = b + f.substr(a.size());
    if (::rename(folder_dir(root_, f).c_str(), folder_dir(root_, nn).c_str()) != 0) {
      log::line("{}: cannot rename {}: {}", who_, log::printable(f), std::strerror(errno));
      return no(tag, "[SERVERBUG] Cannot rename the mailbox");
    }
  }
  fsync_dir(root_);
  auto subs = read_subscriptions(root_);
  bool changed = false;
  for (auto& s : subs)
    if (s == a || s.starts_with(a + ".")) s = b + s.substr(a.size()), changed = true;
  if (changed) write_subscriptions(root_, subs);
  ok(tag, "RENAME completed");
}

void Session::cmd_subscribe(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool sub = c.verb == "SUBSCRIBE";
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad arguments");
  std::string n = canonical(*name);
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] Invalid mailbox name");
  auto subs = read_subscriptions(root_);
  auto it = std::find(subs.begin(), subs.end(), n);
  if (sub) {
    struct stat st {};
    if (::stat((folder_dir(root_, n) + "/cur").c_str(), &st) != 0) return no(tag, "[NONEXISTENT] No such mailbox");
    if (it == subs.end()) subs.push_back(n);
  } else if (it != subs.end()) {
    subs.erase(it);
  }
  if (!write_subscriptions(root_, subs)) return no(tag, "[SERVERBUG] Cannot write subscriptions");
  ok(tag, sub ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

void Session::cmd_list(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool lsub = c.verb == "LSUB";
  bool only_subscribed = lsub, ret_subscribed = false, ret_children = true, ret_special = true;
  std::vector<std::string> status_items;
  if (!lsub && p.accept('(')) {  // LIST-EXTENDED selection options
    while (!p.accept(')')) {
      auto o = p.atom();
      if (!o) return bad(tag, "Bad selection options");
      std::string u = upper(*o);
      if (u == "SUBSCRIBED") only_subscribed = ret_subscribed = true;
      p.sp();
    }
    if (!p.sp()) return bad(tag, "Bad arguments");
  }
  auto ref = p.astring();
  if (!ref || !p.sp()) return bad(tag, "Bad arguments");
  std::vector<std::string> patterns;
  bool list = p.accept('(');
  while (!list || !p.accept(')')) {
    auto pat = p.list_mailbox();
    if (!pat) return bad(tag, "Bad pattern");
    if (patterns.size() >= max_list_patterns || ref->size() + pat->size() > max_list_pattern) {
      log::line("{}: LIST past its limits", who_);
      return no(tag, fmt::format("[LIMIT] At most {} patterns of {} bytes", max_list_patterns, max_list_pattern));
    }
    patterns.push_back(*pat);
    if (!list) break;
    p.sp();
  }
  if (!lsub && p.sp()) {
    auto kw = p.atom();
    if (!kw || upper(*kw) != "RETURN" || !p.sp() || !p.accept('(')) return bad(tag, "Bad return options");
    while (!p.accept(')')) {
      auto o = p.atom();
      if (!o) return bad(tag, "Bad return options");
      std::string u = upper(*o);
      if (u == "SUBSCRIBED") ret_subscribed = true;
      else if (u == "CHILDREN") ret_children = true;
      else if (u == "SPECIAL-USE") ret_special = true;
      else if (u == "STATUS") {
        if (!p.sp() || !p.accept('(')) return bad(tag, "Bad STATUS return option");
        while (!p.accept(')')) {
          auto i = p.atom();
          if (!i || status_items.size() >= 10) return bad(tag, "Bad STATUS items");
          status_items.push_back(upper(*i));
          p.sp();
        }
      }
      p.sp();
    }
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  const char* verb = lsub ? "LSUB" : "LIST";
  if (patterns.size() == 1 && patterns[0].empty()) {
    io_.put(fmt::format("* {} (\\Noselect) \".\" \"\"\r\n", verb));
    return ok(tag, std::string(verb) + " completed");
  }
  ListMatcher matcher;
  for (auto& pat : patterns) matcher.add(canonical(*ref + pat));
  // Sorted, so that "exists", "implied" and "has children" are binary
  // searches: LIST costs names x log(names), never names x names.
  auto all = list_folders(root_);
  std::sort(all.begin(), all.end());
  auto subs = read_subscriptions(root_);
  std::sort(subs.begin(), subs.end());
  auto has = [](const std::vector<std::string>& v, const std::string& n) {
    return std::binary_search(v.begin(), v.end(), n);
  };
  // Parents that exist only as a prefix of a folder are \Noselect.
  std::vector<std::string> implied;
  for (auto& f : all)
    for (std::size_t d = f.find('.'); d != std::string::npos; d = f.find('.', d + 1))
      if (std::string parent = f.substr(0, d); !has(all, parent)) implied.push_back(parent);
  std::sort(implied.begin(), implied.end());
  implied.erase(std::unique(implied.begin(), implied.end()), implied.end());
  std::vector<std::string> names = only_subscribed ? subs : all;
  if (!only_subscribed) names.insert(names.end(), implied.begin(), implied.end());
  std::sort(names.begin(), names.end(), [](const std::string& x, const std::string& y) {
    if (is_inbox(x) != is_inbox(y)) return is_inbox(x);
    return x < y;
  });
  for (auto& n : names) {
    if (!matcher.matches(n)) continue;
    bool exists = has(all, n);
    bool is_implied = has(implied, n);
    std::vector<std::string> attrs;
    if (!exists && (is_implied || !lsub)) attrs.push_back(is_implied ? "\\Noselect" : "\\NonExistent");
    if (!lsub && ret_children) {
      auto k = std::lower_bound(all.begin(), all.end(), n + ".");
      bool kids = k != all.end() && k->starts_with(n + ".");
      attrs.push_back(kids ? "\\HasChildren" : "\\HasNoChildren");
    }
    if (!lsub && ret_subscribed && has(subs, n)) attrs.push_back("\\Subscribed");
    if (!lsub && ret_special)
      if (const char* su = special_use(n)) attrs.push_back(su);
    std::string a;
    for (auto& x : attrs) a += (a.empty() ? "" : " ") + x;
    io_.put(fmt::format("* {} ({}) \".\" {}\r\n", verb, a, astring_out(n)));
    if (!status_items.empty() && exists)
      if (auto st = status_of(n, status_items)) io_.put(*st);
  }
  ok(tag, std::string(verb) + " completed");
}

std::optional<std::string> Session::status_of(const std::string& n, const std::vector<std::string>& items) {
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (::stat((dir + "/cur").c_str(), &st) != 0) return std::nullopt;
  Folder f(dir);
  std::vector<Entry> entries;
  std::string err;
  if (sel_ && sel_->name == n) update(false);
  if (!f.sync(entries, false, err)) {
    log::line("{}: {}", who_, err);
    return std::nullopt;
  }
  std::string out;
  for (auto& i : items) {
    std::uint64_t v = 0;
    if (i == "MESSAGES") v = entries.size();
    else if (i == "RECENT") {
      for (auto& e : entries) v += e.uid >= f.recent_from();
      if (sel_ && sel_->name == n) {
        v = 0;
        for (auto& m : sel_->msgs) v += m.recent;
      }
    } else if (i == "UIDNEXT") v = f.uidnext();
    else if (i == "UIDVALIDITY") v = f.uidvalidity();
    else if (i == "UNSEEN") {
      for (auto& e : entries) v += !(flags_of(e.name).sys & f_seen);
    } else if (i == "SIZE") {
      for (auto& e : entries) v += e.vsize;
    } else {
      return std::nullopt;
    }
    out += (out.empty() ? "" : " ") + i + " " + std::to_string(v);
  }
  return "* STATUS " + astring_out(n) + " (" + out + ")\r\n";
}

void Session::cmd_status(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto name = p.astring();
  if (!name || !p.sp() || !p.accept('(')) return bad(tag, "Bad arguments");
  std::vector<std::string> items;
  while (!p.accept(')')) {
    auto i = p.atom();
    if (!i) return bad(tag, "Bad status items");
    std::string u = upper(*i);
    if (u != "MESSAGES" && u != "RECENT" && u != "UIDNEXT" && u != "UIDVALIDITY" && u != "UNSEEN" && u != "SIZE")
      return bad(tag, "Unknown status item " + log::printable(u, 40));
    items.push_back(u);
    p.sp();
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  std::string n = canonical(*name);
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] No such mailbox");
  auto st = status_of(n, items);
  if (!st) return no(tag, "[NONEXISTENT] No such mailbox");
  io_.put(*st);
  ok(tag, "STATUS completed");
}

}  // namespace imapd
