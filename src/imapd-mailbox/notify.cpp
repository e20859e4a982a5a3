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

namespace imapd {

namespace {

enum : unsigned {
  ev_new = 1,
  ev_expunge = 2,
  ev_flags = 4,
  ev_annotation = 8,
  ev_name = 16,
  ev_subscription = 32,
  ev_mailbox_metadata = 64,
  ev_server_metadata = 128,
  ev_unknown = 256,  // an event-ext this server does not know
};
constexpr unsigned message_events = ev_new | ev_expunge | ev_flags | ev_annotation;
constexpr unsigned supported_events = ev_new | ev_expunge | ev_flags | ev_name | ev_subscription;

const struct {
  const char* name;
  unsigned bit;
} event_names[] = {
    {"MessageNew", ev_new},
    {"MessageExpunge", ev_expunge},
    {"FlagChange", ev_flags},
    {"AnnotationChange", ev_annotation},
    {"MailboxName", ev_name},
    {"SubscriptionChange", ev_subscription},
    {"MailboxMetadataChange", ev_mailbox_metadata},
    {"ServerMetadataChange", ev_server_metadata},
};

enum class Filter { inboxes, personal, subscribed, subtree, mailboxes };

struct Group {
  Filter kind;
  std::vector<std::string> names;  // SUBTREE's and MAILBOXES' (stored form)
  unsigned events = 0;
};

// What a STATUS notification compares: a change in one of these is news.
struct BoxState {
  std::uint32_t validity = 0, uidnext = 0;
  std::size_t messages = 0, unseen = 0;
  std::uint64_t modseq = 0;
};

struct Stamp {
  long long newdir = -1, curdir = -1;
  bool operator==(const Stamp&) const = default;
};

long long mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

bool sorted_has(const std::vector<std::string>& v, const std::string& s) {
  return std::binary_search(v.begin(), v.end(), s);
}

}  // namespace

struct NotifyState {
  bool set = false;        // a NOTIFY SET is in effect (not NONE)
  unsigned selected = 0;   // events for the selected folder
  bool delayed = false;    // SELECTED-DELAYED: expunges wait for a command that may send them
  std::string fetch_atts;  // MessageNew's "(...)" for the selected folder, or ""
  std::vector<Group> groups;
  std::unique_ptr<Watch> watch;
  bool polling = false;  // no inotify: every poll_check seconds, a look at every stamp
  int root_wd = -1;
  std::map<std::string, std::pair<int, int>> watched;  // folder -> watches of new/, cur/
  std::unordered_map<int, std::string> by_wd;
  std::map<std::string, BoxState> boxes;  // the other folders, as last told
  std::map<std::string, Stamp> stamps;
  long long root_stamp = -1, subs_stamp = -1;
  std::vector<std::string> folders, subs;  // sorted, as last seen
  // What the events say is to be looked at.
  std::set<std::string> dirty;
  bool root_dirty = false, subs_dirty = false, sel_count = false, sel_flags = false;
  std::vector<std::pair<std::string, std::string>> renames;
  // In IDLE the selected folder is told of as IDLE tells it without
  // NOTIFY (Dovecot does the same); sel_name is the one watched for it.
  bool idling = false;
  std::string sel_name;

  // The events the filters ask for on name (other than the selected one).
  unsigned events_for(const std::string& name, const std::vector<std::string>* old_subs = nullptr) const {
    unsigned ev = 0;
    for (auto& g : groups) {
      bool match = false;
      switch (g.kind) {
        // inboxes: every folder may get mail (a .qmail file can deliver
        // anywhere), so it is personal, as RFC 5465 6.3 allows.
        case Filter::inboxes:
        case Filter::personal: match = true; break;
        case Filter::subscribed:
          match = sorted_has(subs, name) || (old_subs && sorted_has(*old_subs, name));
          break;
        case Filter::subtree:
          for (auto& n : g.names)
            match = match || (name.starts_with(n) && (name.size() == n.size() || name[n.size()] == '.'));
          break;
        case Filter::mailboxes: match = std::find(g.names.begin(), g.names.end(), name) != g.names.end(); break;
      }
      if (match) ev |= g.events;
    }
    return ev;
  }
};

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
