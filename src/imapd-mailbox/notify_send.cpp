// imapd-mailbox: NOTIFY's responses (RFC 5465) and the wait between
// commands. What notify.cpp's watching marked as changed is looked at
// here and told to the client: STATUS for other folders, LIST for names
// and subscriptions, EXISTS/EXPUNGE/FETCH for the selected one. Trusts
// only the state notify.cpp built; writes responses, returns nothing.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "base/log.hpp"
#include "mail/status.hpp"
#include "session.hpp"
#include "watch.hpp"

#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "notify_state.hpp"

namespace imapd {

// -- sending -----------------------------------------------------------------

std::optional<std::string> Session::notify_status(const std::string& name, bool initial) {
  NotifyState& n = *notify_;
  auto old = n.boxes.find(name);
  if (old == n.boxes.end()) return std::nullopt;
  unsigned ev = n.events_for(name);
  BoxState b = old->second;
  if (!initial) {
    std::string dir = folder_dir(root_, name);
    Folder folder(dir);
    std::vector<Entry> entries;
    std::string err;
    if (!folder.sync(entries, false, err)) return std::nullopt;  // gone: MailboxName tells
    b = {folder.uidvalidity(), folder.uidnext(), entries.size(), 0, folder.highestmodseq()};
    for (auto& e : entries) b.unseen += !(flags_of(e.name).sys & f_seen);
    n.stamps[name] = {mtime_ns(dir + "/new"), mtime_ns(dir + "/cur")};
    const BoxState& a = old->second;
    bool news = b.validity != a.validity || ((ev & ev_new) && b.uidnext != a.uidnext) ||
                ((ev & ev_expunge) && b.messages < a.messages + (b.uidnext - a.uidnext)) ||
                ((ev & ev_flags) && (b.unseen != a.unseen || b.modseq != a.modseq));
    old->second = b;
    if (!news) return std::nullopt;
  }
  // RFC 5465 5.1-5.3: HIGHESTMODSEQ once CONDSTORE is on, and for FlagChange.
  std::string modseq = enabled_.condstore || (ev & ev_flags) ? fmt::format(" HIGHESTMODSEQ {}", b.modseq) : "";
  return fmt::format("* STATUS {} (MESSAGES {} UIDNEXT {} UIDVALIDITY {} UNSEEN {}{})\r\n", mailbox_out(name),
                     b.messages, b.uidnext, b.validity, b.unseen, modseq);
}

std::string Session::notify_list_line(const std::string& name, const std::string* oldname) const {
  const NotifyState& n = *notify_;
  bool exists = is_inbox(name) || sorted_has(n.folders, name);
  std::string attrs;
  auto add = [&](const char* a) { attrs += (attrs.empty() ? "" : " ") + std::string(a); };
  if (!exists) add("\\NonExistent");
  if (sorted_has(n.subs, name)) add("\\Subscribed");
  if (exists) {
    auto k = std::lower_bound(n.folders.begin(), n.folders.end(), name + ".");
    add(k != n.folders.end() && k->starts_with(name + ".") ? "\\HasChildren" : "\\HasNoChildren");
    if (const char* su = special_use(name)) add(su);
  }
  std::string extra = oldname ? " (\"OLDNAME\" (" + mailbox_out(*oldname) + "))" : "";
  return "* LIST (" + attrs + ") \".\" " + mailbox_out(name) + extra + "\r\n";
}

void Session::notify_folders_changed() {
  NotifyState& n = *notify_;
  auto old_folders = std::move(n.folders);
  auto old_subs = n.subs;
  n.folders = list_folders(root_);
  std::sort(n.folders.begin(), n.folders.end());
  n.root_stamp = mtime_ns(root_);
  if (n.subs_dirty) {
    n.subs = read_subscriptions(root_);
    std::sort(n.subs.begin(), n.subs.end());
    n.subs.erase(std::unique(n.subs.begin(), n.subs.end()), n.subs.end());
    n.subs_stamp = mtime_ns(root_ + "/subscriptions");
  }
  std::vector<std::string> created, deleted;
  std::set_difference(n.folders.begin(), n.folders.end(), old_folders.begin(), old_folders.end(),
                      std::back_inserter(created));
  std::set_difference(old_folders.begin(), old_folders.end(), n.folders.begin(), n.folders.end(),
                      std::back_inserter(deleted));
  // MailboxName (RFC 5465 5.4): a rename the kernel paired is one LIST
  // with OLDNAME; the rest are creations and deletions (\NonExistent).
  for (auto& [from, to] : n.renames) {
    auto d = std::find(deleted.begin(), deleted.end(), from);
    auto c = std::find(created.begin(), created.end(), to);
    if (d == deleted.end() || c == created.end()) continue;
    deleted.erase(d);
    created.erase(c);
    if ((n.events_for(from, &old_subs) | n.events_for(to)) & ev_name) io_.put(notify_list_line(to, &from));
  }
  n.renames.clear();
  for (auto& f : created)
    if (n.events_for(f) & ev_name) io_.put(notify_list_line(f, nullptr));
  for (auto& f : deleted)
    if (n.events_for(f, &old_subs) & ev_name) io_.put(notify_list_line(f, nullptr));
  // SubscriptionChange (5.5): \Subscribed when, and only when, it is now.
  std::vector<std::string> changed_subs;
  std::set_symmetric_difference(n.subs.begin(), n.subs.end(), old_subs.begin(), old_subs.end(),
                                std::back_inserter(changed_subs));
  for (auto& s : changed_subs)
    if (n.events_for(s, &old_subs) & ev_subscription) io_.put(notify_list_line(s, nullptr));
  if (!notify_reconcile(n)) {
    // RFC 5465 5.8: past the bound, tell the client and stop, as NOTIFY NONE.
    log::line("{}: NOTIFY would watch more than {} folders; notifications end", who_, notify_max_folders);
    io_.put("* OK [NOTIFICATIONOVERFLOW] Too many folders to watch; NOTIFY NONE\r\n");
    notify_.reset(new NotifyState);
  }
}

void Session::notify_deliver() {
  if (!notify_ || !notify_->set) return;
  if (notify_->root_dirty || notify_->subs_dirty) {
    notify_folders_changed();
    if (!notify_->set) return;
  }
  NotifyState& n = *notify_;
  n.root_dirty = n.subs_dirty = false;
  if (sel_) {
    // The selected folder (RFC 5465 5.1-5.3): only what SELECTED asks for;
    // the rest waits for the client's next command, as without NOTIFY.
    bool want = (n.sel_count && (n.selected & ev_new)) || (n.sel_flags && (n.selected & ev_flags)) ||
                (n.idling && (n.sel_count || n.sel_flags));
    if (want) {
      // A FETCH that FlagChange asks for names its UID (5.1).
      bool was = uid_cmd_;
      uid_cmd_ = uid_cmd_ || (n.selected & ev_flags);
      update(n.idling || !n.delayed);
      uid_cmd_ = was;
      if (auto w = n.watched.find(sel_->name); w != n.watched.end()) {
        std::string dir = sel_->folder->dir();
        n.stamps[w->first] = {mtime_ns(dir + "/new"), mtime_ns(dir + "/cur")};
      }
    }
  }
  n.sel_count = n.sel_flags = false;
  auto dirty = std::move(n.dirty);
  n.dirty.clear();
  for (auto& f : dirty)
    if (!(sel_ && sel_->name == f))
      if (auto line = notify_status(f, false)) io_.put(*line);
}

void Session::notify_new_messages(std::size_t first) {
  if (!notify_ || !notify_->set || notify_->fetch_atts.empty() || in_notify_fetch_ || !sel_) return;
  if (first >= sel_->msgs.size()) return;
  // RFC 5465 5.2: after EXISTS, the FETCH the client asked for, run as a
  // FETCH by sequence numbers (no expunges in it) whose tagged answer is
  // dropped (ok() and no() know notify_tag_).
  std::string text = fmt::format("{}:{} {}", first + 1, sel_->msgs.size(), notify_->fetch_atts);
  Parser p(text);
  Cmd c{notify_tag_, "FETCH", false, p};
  in_notify_fetch_ = true;
  cmd_fetch(c);
  in_notify_fetch_ = false;
}

// -- waiting -----------------------------------------------------------------

void Session::wait_for_command() {
  if (!notify_ || !notify_->set) return;
  std::time_t start = std::time(nullptr), last_look = start;
  for (;;) {
    notify_follow_selection(false);
    notify_deliver();
    io_.flush();
    if (!notify_->set) return;
    std::time_t now = std::time(nullptr);
    int every = notify_interval();
    long wait = std::min<long>(last_look + every - now, start + idle_timeout - now);
    Woke w = wait_for(io_, notify_fd(), static_cast<int>(std::max<long>(wait, 1)));
    if (w == Woke::input) {
      // The client first (wait_for), but what changed meanwhile is told
      // once before its command: a client that keeps sending still hears.
      notify_collect(false);
      notify_deliver();
      io_.flush();
      return;
    }
    now = std::time(nullptr);
    if (now - start >= idle_timeout) bye("Autologout; idle for too long", "timed out");
    bool look = now - last_look >= every;
    if (look) last_look = now;
    notify_collect(look);
  }
}

}  // namespace imapd
