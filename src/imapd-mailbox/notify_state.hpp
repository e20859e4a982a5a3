// imapd-mailbox: what a NOTIFY SET (RFC 5465) leaves behind, shared by
// notify.cpp (the command and the watching) and notify_send.cpp (the
// responses and the wait between commands). Only these two include it.
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "watch.hpp"

namespace imapd {

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

inline const struct {
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

inline long long mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

inline bool sorted_has(const std::vector<std::string>& v, const std::string& s) {
  return std::binary_search(v.begin(), v.end(), s);
}


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

}  // namespace imapd
