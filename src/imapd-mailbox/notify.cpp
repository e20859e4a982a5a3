// imapd-mailbox: NOTIFY (RFC 5465). NOTIFY SET [STATUS] names event groups
// (a mailbox filter and its events); NOTIFY NONE ends them. From then on,
// whenever no command is running, the session waits for the client's next
// bytes and for the kernel's word (inotify, watch.hpp) that a watched
// folder's new/ or cur/, or the Maildir root (folders created, deleted,
// renamed; the subscriptions file), changed, and sends what the client
// asked for: EXISTS, EXPUNGE or VANISHED and FETCH for the selected
// folder, STATUS for the others, LIST for names and subscriptions.
// Trusts nothing in the command: filters, events and names are checked,
// names through valid_name() before they become paths, and the folders
// watched and the names one NOTIFY SET gives, all groups together, are
// bounded (notify_max_folders). Answers OK, BAD, NO [BADEVENT]
// or NO [NOTIFICATIONOVERFLOW]. See imapd(8).
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

void NotifyDeleter::operator()(NotifyState* n) const { delete n; }

// -- the command -------------------------------------------------------------

void Session::cmd_notify(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  const char* usage = "Usage: NOTIFY NONE or NOTIFY SET [STATUS] (filter events) ...";
  auto verb = p.atom();
  if (!verb) return bad(tag, usage);
  std::string v = upper(*verb);
  auto next = std::unique_ptr<NotifyState, NotifyDeleter>(new NotifyState);
  if (v == "NONE") {
    if (!p.eol()) return bad(tag, usage);
    notify_ = std::move(next);
    return ok(tag, "NOTIFY completed");
  }
  if (v != "SET" || !p.sp()) return bad(tag, usage);
  bool status = false;
  if (p.peek() != '(') {
    auto s = p.atom();
    if (!s || upper(*s) != "STATUS" || !p.sp()) return bad(tag, usage);
    status = true;
  }
  bool selected_seen = false, too_many = false;
  unsigned used = 0;
  std::size_t names_given = 0;  // across all groups: the bound is on the whole command
  do {
    if (!p.accept('(')) return bad(tag, "Expected an event group");
    auto f = p.atom();
    if (!f) return bad(tag, "Expected a mailbox filter");
    std::string fu = upper(*f);
    bool selected = fu == "SELECTED" || fu == "SELECTED-DELAYED";
    Group g;
    if (selected) {
      if (selected_seen) return bad(tag, "SELECTED or SELECTED-DELAYED given twice");
      selected_seen = true;
      next->delayed = fu == "SELECTED-DELAYED";
    } else if (fu == "INBOXES") g.kind = Filter::inboxes;
    else if (fu == "PERSONAL") g.kind = Filter::personal;
    else if (fu == "SUBSCRIBED") g.kind = Filter::subscribed;
    else if (fu == "SUBTREE") g.kind = Filter::subtree;
    else if (fu == "MAILBOXES") g.kind = Filter::mailboxes;
    else return bad(tag, "Unknown mailbox filter " + log::printable(fu, 40));
    if (!p.sp()) return bad(tag, "Expected events");
    if (!selected && (g.kind == Filter::subtree || g.kind == Filter::mailboxes)) {
      bool several = p.accept('(');
      do {
        auto name = p.astring();
        if (!name) return bad(tag, "Bad mailbox name");
        // A name that cannot be a folder names none: nothing to watch (RFC 5465 6).
        std::string n = canonical(mailbox_in(*name));
        if (valid_name(n) && ++names_given <= notify_max_folders) g.names.push_back(n);
        too_many = too_many || names_given > notify_max_folders;
      } while (several && p.sp());
      if ((several && !p.accept(')')) || !p.sp()) return bad(tag, "Bad mailbox list");
    }
    unsigned events = 0;
    if (p.accept('(')) {
      do {
        auto e = p.atom();
        if (!e) return bad(tag, "Expected an event name");
        unsigned bit = ev_unknown;
        for (auto& en : event_names)
          if (iequal(*e, en.name)) bit = en.bit;
        events |= bit;
        std::size_t at = p.pos();
        if (bit == ev_new && p.sp() && p.peek() == '(') {
          // MessageNew's fetch-att list, as Dovecot: for the selected folder only.
          std::string_view from = p.rest();
          if (!selected) return bad(tag, "MessageNew takes FETCH attributes only for SELECTED");
          if (!fetch_atts_valid(p)) return bad(tag, "Bad FETCH attributes for MessageNew");
          next->fetch_atts = std::string(from.substr(0, p.pos() - at - 1));
        } else {
          p.set_pos(at);
        }
      } while (p.sp());
      if (!p.accept(')')) return bad(tag, "Bad event list");
    } else {
      auto none = p.atom();
      if (!none || upper(*none) != "NONE") return bad(tag, "Expected an event list or NONE");
    }
    if (!p.accept(')')) return bad(tag, "Bad event group");
    // RFC 5465 5: MessageNew and MessageExpunge together, and both with
    // FlagChange or AnnotationChange; 6.1: only message events for SELECTED.
    if (((events & ev_new) != 0) != ((events & ev_expunge) != 0))
      return bad(tag, "MessageNew and MessageExpunge go together");
    if ((events & (ev_flags | ev_annotation)) && !(events & ev_new))
      return bad(tag, "FlagChange and AnnotationChange need MessageNew and MessageExpunge");
    if (selected && (events & ~(message_events | ev_unknown)))
      return bad(tag, "Only message events for SELECTED and SELECTED-DELAYED");
    used |= events;
    if (selected) next->selected = events & supported_events;
    else if (events) {
      g.events = events & supported_events;
      next->groups.push_back(std::move(g));
    }
  } while (p.sp());
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  if (used & ~supported_events) {
    std::string names;
    for (auto& en : event_names)
      if (en.bit & supported_events) names += (names.empty() ? "" : " ") + std::string(en.name);
    return no(tag, "[BADEVENT (" + names + ")] Unsupported event");
  }
  next->set = true;
  next->folders = list_folders(root_);
  std::sort(next->folders.begin(), next->folders.end());
  next->subs = read_subscriptions(root_);
  std::sort(next->subs.begin(), next->subs.end());
  next->subs.erase(std::unique(next->subs.begin(), next->subs.end()), next->subs.end());
  if (too_many || !notify_reconcile(*next)) {
    log::line("{}: NOTIFY names more than {} folders", who_, notify_max_folders);
    return no(tag, fmt::format("[NOTIFICATIONOVERFLOW] NOTIFY watches at most {} folders", notify_max_folders));
  }
  notify_ = std::move(next);
  if (status)
    for (auto& [name, st] : notify_->boxes)
      if (!(sel_ && sel_->name == name))
        if (auto line = notify_status(name, true)) io_.put(*line);
  // RFC 5465 3.1: a NOTIFY SET is also a NOOP.
  if (sel_) update(true);
  ok(tag, "NOTIFY completed");
}

// -- watching ----------------------------------------------------------------

bool Session::notify_reconcile(NotifyState& n) {
  std::set<std::string> want;
  for (auto& f : n.folders)
    if (n.events_for(f) & message_events) want.insert(f);
  if (want.size() > notify_max_folders) return false;
  n.sel_name = sel_ && ((n.selected & message_events) || n.idling) ? sel_->name : "";
  if (!n.sel_name.empty()) want.insert(n.sel_name);
  if (!n.watch && !n.polling) {
    n.watch = std::make_unique<Watch>();
    if (n.watch->fd() < 0) {
      log::line("{}: NOTIFY without inotify; checking every {} seconds", who_, poll_check);
      n.polling = true;
    }
  }
  if (!n.groups.empty() && n.root_wd < 0 && !n.polling) {
    n.root_wd = n.watch->add(root_);
    if (n.root_wd < 0) {
      log::line("{}: NOTIFY cannot watch the Maildir ({}); checking every {} seconds", who_, std::strerror(errno),
                poll_check);
      n.polling = true;
    }
  }
  n.root_stamp = mtime_ns(root_);
  n.subs_stamp = mtime_ns(root_ + "/subscriptions");
  for (auto it = n.watched.begin(); it != n.watched.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    for (int wd : {it->second.first, it->second.second}) {
      if (n.watch) n.watch->remove(wd);
      n.by_wd.erase(wd);
    }
    n.boxes.erase(it->first);
    n.stamps.erase(it->first);
    it = n.watched.erase(it);
  }
  for (auto& f : want) {
    std::string dir = folder_dir(root_, f);
    if (!n.watched.count(f)) {
      int wn = -1, wc = -1;
      if (!n.polling) {
        wn = n.watch->add(dir + "/new");
        wc = n.watch->add(dir + "/cur");
        if (wn < 0 || wc < 0) {
          // The user's max_user_watches: look at the stamps instead.
          log::line("{}: NOTIFY cannot watch {} ({}); checking every {} seconds", who_, log::printable(f),
                    std::strerror(errno), poll_check);
          n.polling = true;
        }
      }
      n.watched[f] = {wn, wc};
      if (wn >= 0) n.by_wd[wn] = f;
      if (wc >= 0) n.by_wd[wc] = f;
      n.stamps[f] = {mtime_ns(dir + "/new"), mtime_ns(dir + "/cur")};
    }
    bool other = n.events_for(f) & message_events;
    if (other && !n.boxes.count(f) && !(sel_ && sel_->name == f)) {
      // What the folder holds now: later changes are told against it.
      BoxState b;
      Folder folder(dir);
      std::vector<Entry> entries;
      std::string err;
      if (folder.sync(entries, false, err)) {
        b = {folder.uidvalidity(), folder.uidnext(), entries.size(), 0, folder.highestmodseq()};
        for (auto& e : entries) b.unseen += !(flags_of(e.name).sys & f_seen);
        n.boxes[f] = b;
      }
    }
  }
  if (n.polling && n.watch) {
    n.watch.reset();
    n.by_wd.clear();
    n.root_wd = -1;
  }
  return true;
}

bool Session::notify_follow_selection(bool idling) {
  if (!notify_ || !notify_->set) return false;
  NotifyState& n = *notify_;
  // SELECT, CLOSE and IDLE change what is watched for the selected folder.
  std::string need = sel_ && ((n.selected & message_events) || idling) ? sel_->name : "";
  if (n.idling != idling || n.sel_name != need) {
    n.idling = idling;
    notify_reconcile(n);
  }
  return true;
}

int Session::notify_fd() const { return notify_ && notify_->watch ? notify_->watch->fd() : -1; }

int Session::notify_interval() const {
  if (!notify_ || !notify_->set) return idle_timeout;
  return notify_->polling ? poll_check : idle_check;
}

void Session::notify_collect(bool look_all) {
  if (!notify_ || !notify_->set) return;
  NotifyState& n = *notify_;
  bool overflow = false;
  std::vector<Watch::Event> events;
  if (n.watch) events = n.watch->take(overflow);
  bool sel_watched = sel_ && n.sel_name == sel_->name;
  std::unordered_map<std::uint32_t, std::string> root_from;
  std::set<std::uint32_t> cur_from;  // renames out of the selected folder's cur/
#ifdef __linux__
  for (auto& e : events) {
    if (e.wd == n.root_wd) {
      if (e.name == "subscriptions") n.subs_dirty = true;
      if (e.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) n.root_dirty = true;
      if (e.name.size() < 2 || e.name[0] != '.' || e.name[1] == '.' || !(e.mask & IN_ISDIR)) continue;
      n.root_dirty = true;
      if (e.mask & IN_MOVED_FROM) root_from[e.cookie] = e.name.substr(1);
      if (e.mask & IN_MOVED_TO) {
        auto it = root_from.find(e.cookie);
        if (it != root_from.end()) n.renames.emplace_back(it->second, e.name.substr(1));
      }
      continue;
    }
    auto it = n.by_wd.find(e.wd);
    if (it == n.by_wd.end()) continue;
    const std::string& f = it->second;
    if (e.mask & IN_IGNORED) {
      // Its directory went: the folder was deleted. Forget it whole, so
      // that notify_reconcile watches it again if it is made anew.
      n.root_dirty = true;
      std::string gone = f;
      if (auto w = n.watched.find(gone); w != n.watched.end()) {
        for (int wd : {w->second.first, w->second.second}) {
          if (wd != e.wd && n.watch) n.watch->remove(wd);
          n.by_wd.erase(wd);
        }
        n.watched.erase(w);
      }
      n.by_wd.erase(e.wd);
      n.boxes.erase(gone);
      n.stamps.erase(gone);
      n.dirty.erase(gone);
      continue;
    }
    if (!(sel_watched && f == sel_->name)) {
      n.dirty.insert(f);
      continue;
    }
    // The selected folder: a rename inside cur/ is a flag change; any
    // other arrival or removal changes what the folder holds.
    auto w = n.watched.find(f);
    bool in_cur = w != n.watched.end() && w->second.second == e.wd;
    if (!in_cur || (e.mask & (IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF))) n.sel_count = true;
    else if (e.mask & IN_MOVED_FROM) cur_from.insert(e.cookie);
    else if (e.mask & IN_MOVED_TO) {
      if (cur_from.erase(e.cookie)) n.sel_flags = true;
      else n.sel_count = true;
    }
  }
#endif
  if (!cur_from.empty()) n.sel_count = true;  // renamed out of cur/
  if (overflow || look_all) {
    // Anything may have changed: look at the times of everything watched.
    for (auto& [f, stamp] : n.stamps) {
      std::string dir = folder_dir(root_, f);
      Stamp now{mtime_ns(dir + "/new"), mtime_ns(dir + "/cur")};
      if (!overflow && now == stamp) continue;
      if (sel_ && f == sel_->name) n.sel_count = n.sel_flags = true;
      else n.dirty.insert(f);
    }
    if (overflow || mtime_ns(root_) != n.root_stamp) n.root_dirty = true;
    if (overflow || mtime_ns(root_ + "/subscriptions") != n.subs_stamp) n.subs_dirty = true;
  }
}

}  // namespace imapd
