// imapd-mailbox: the session loop, the command table that dispatches each
// command after checking the state and arguments it needs, and the small
// commands. See session.hpp and imapd(8).
#include "session.hpp"
#include "imap/imap_shares.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/maildir.hpp"
#include "mail/status.hpp"

namespace imapd {

namespace {

constexpr int max_errors = 30;           // commands in a row that fail with BAD
constexpr int autologout = idle_timeout;  // seconds (session.hpp)
const char* const special_names[] = {"Archive", "Drafts", "Junk", "Sent", "Trash"};


// What a command needs before its handler runs.
enum : unsigned {
  r_args = 1,      // arguments: a space after the name
  r_no_args = 2,   // nothing after the name
  r_selected = 4,  // a selected mailbox
  r_uid = 8,       // may follow UID
  r_writes = 16,   // changes the mailbox: not when it is read-only
};

// Files in a folder's tmp/ older than this are writes that never
// finished (a session or a delivery killed mid-message): Maildir's rule.
constexpr std::time_t stale_tmp = 36 * 3600;

void remove_stale_tmp(const std::string& dir) {
  DIR* d = ::opendir((dir + "/tmp").c_str());
  if (!d) return;
  std::time_t now = std::time(nullptr);
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string path = dir + "/tmp/" + e->d_name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < now - stale_tmp)
      ::unlink(path.c_str());
  }
  ::closedir(d);
}

}  // namespace

const char* special_use(std::string_view name) {
  if (name == "Sent") return "\\Sent";
  if (name == "Drafts") return "\\Drafts";
  if (name == "Trash") return "\\Trash";
  if (name == "Junk") return "\\Junk";
  if (name == "Archive") return "\\Archive";
  return nullptr;
}

std::string canonical(std::string name) {
  if (name.size() >= 5 && is_inbox(std::string_view(name).substr(0, 5)) && (name.size() == 5 || name[5] == '.'))
    name.replace(0, 5, "INBOX");
  return name;
}


// One capability a line: each is advertised only once it works completely.
const char* const capability_list[] = {
    "IMAP4rev1",
    "IMAP4rev2",  // RFC 9051, after ENABLE IMAP4rev2 (imapd-mailbox(8))
    "LITERAL+",
    "IDLE",
    "UIDPLUS",
    "MOVE",
    "NAMESPACE",
    "SPECIAL-USE",
    "ENABLE",
    "ID",
    "UNSELECT",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "ESEARCH",
    "SEARCHRES",
    "WITHIN",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=REFERENCES",
    "THREAD=ORDEREDSUBJECT",
    "STATUS=SIZE",
    "MULTIAPPEND",
    "APPENDLIMIT=67108864",  // Limits::max_literal, checked below
    "CATENATE",
    "CONDSTORE",
    "QRESYNC",
    "CONTEXT=SEARCH",
    "URLAUTH",
    "URLAUTH=BINARY",
    "UTF8=ACCEPT",
    "OBJECTID",
    "COMPRESS=DEFLATE",
    "BINARY",
    "PREVIEW",
    "SAVEDATE",
    "NOTIFY",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "QUOTASET",
    "ACL",
    "RIGHTS=texk",
};
static_assert(Limits{}.max_literal == 67108864, "APPENDLIMIT= in capability_list");

std::string Session::capabilities() {
  std::string out;
  for (const char* c : capability_list)
    out += (out.empty() ? "" : " ") + std::string(literal_minus && std::string_view(c) == "LITERAL+" ? "LITERAL-" : c);
  return out;
}

void Session::run(const std::string& login_tag) {
  // The special-use folders, as Dovecot's auto=subscribe makes them (the
  // owner's own session only: share mode changes nothing unasked).
  auto subs = read_subscriptions(root_);
  bool subs_changed = false;
  for (const char* n : special_names) {
    if (share_) break;
    struct stat st {};
    if (::stat(folder_dir(root_, n).c_str(), &st) == 0) continue;
    if (!create_folder(root_, n) && errno != EEXIST) continue;
    if (std::find(subs.begin(), subs.end(), n) == subs.end()) subs.push_back(n), subs_changed = true;
  }
  if (subs_changed) write_subscriptions(root_, subs);
  for (auto& f : list_folders(root_)) remove_stale_tmp(folder_dir(root_, f));

  if (login_tag.empty())
    io_.put("* PREAUTH [CAPABILITY " + capabilities() + "] postern imapd ready\r\n");
  else
    io_.put(login_tag + " OK [CAPABILITY " + capabilities() + "] Logged in\r\n");
  io_.set_timeout(autologout);
  std::string raw;
  for (;;) {
    wait_for_command();  // NOTIFY's events until the client's next bytes (notify.cpp)
    auto r = read_command(io_, limits_, raw, next_spool());
    switch (r) {
      case ReadStatus::ok:
        if (literal_discarded()) {
          log::line("{}: literal too large for its command", who_);
          no(tag_of(raw).value_or("*"), "[TOOBIG] Literal too large for this command");
          break;
        }
        command(raw);
        break;
      case ReadStatus::timeout:
        bye("Autologout; idle for too long", "timed out");
      case ReadStatus::eof:
      case ReadStatus::error:
        log::line("{}: connection closed", who_);
        std::_Exit(status::ok);
      case ReadStatus::too_long:
        bad(tag_of(raw).value_or("*"), "Command line too long");
        log::line("{}: command line too long", who_);
        break;
      case ReadStatus::literal_big:
        log::line("{}: literal too large", who_);
        no(tag_of(raw).value_or("*"), "[TOOBIG] Literal too large");
        break;
      case ReadStatus::literal_minus_big:
        log::line("{}: non-synchronizing literal over 4096 bytes (LITERAL-)", who_);
        bad(tag_of(raw).value_or("*"), "[TOOBIG] Non-synchronizing literal over 4096 bytes (LITERAL-)");
        break;
      case ReadStatus::literal_plus_big:
        log::line("{}: non-synchronizing literal too large", who_);
        bye("[TOOBIG] Literal too large", "literal too large");
    }
  }
}

void Session::bye(const std::string& text, const std::string& why) {
  io_.put("* BYE " + text + "\r\n");
  io_.flush();
  log::line("{}: {}", who_, why);
  std::_Exit(status::ok);
}

void Session::bad(const std::string& tag, const std::string& text) {
  io_.put(tag + " BAD " + text + "\r\n");
  if (++errors_ >= max_errors) bye("Too many invalid commands", "too many invalid commands");
}

// -- dispatch ----------------------------------------------------------------

struct Session::Rule {
  const char* name;
  void (Session::*run)(Cmd&);
  unsigned need;
};

const Session::Rule* Session::find_rule(std::string_view verb) {
  static const Rule rules[] = {
      {"CAPABILITY", &Session::cmd_capability, r_no_args},
      {"NOOP", &Session::cmd_noop, r_no_args},
      {"CHECK", &Session::cmd_noop, r_no_args | r_selected},
      {"LOGOUT", &Session::cmd_logout, r_no_args},
      {"LOGIN", &Session::cmd_login, 0},
      {"AUTHENTICATE", &Session::cmd_login, 0},
      {"STARTTLS", &Session::cmd_starttls, 0},
      {"ID", &Session::cmd_id, 0},
      {"ENABLE", &Session::cmd_enable, 0},
      {"NAMESPACE", &Session::cmd_namespace, r_no_args},
      {"COMPRESS", &Session::cmd_compress, 0},
      {"SELECT", &Session::cmd_select, r_args},
      {"EXAMINE", &Session::cmd_select, r_args},
      {"CREATE", &Session::cmd_create, r_args},
      {"DELETE", &Session::cmd_delete, r_args},
      {"RENAME", &Session::cmd_rename, r_args},
      {"SUBSCRIBE", &Session::cmd_subscribe, r_args},
      {"UNSUBSCRIBE", &Session::cmd_subscribe, r_args},
      {"LIST", &Session::cmd_list, r_args},
      {"LSUB", &Session::cmd_list, r_args},
      {"STATUS", &Session::cmd_status, r_args},
      {"APPEND", &Session::cmd_append, r_args},
      {"IDLE", &Session::cmd_idle, r_no_args},
      {"NOTIFY", &Session::cmd_notify, r_args},
      {"CLOSE", &Session::cmd_close, r_no_args | r_selected},
      {"UNSELECT", &Session::cmd_close, r_no_args | r_selected},
      {"EXPUNGE", &Session::cmd_expunge, r_selected | r_uid | r_writes},  // UID EXPUNGE takes a set
      {"FETCH", &Session::cmd_fetch, r_args | r_selected | r_uid},
      {"STORE", &Session::cmd_store, r_args | r_selected | r_uid | r_writes},
      {"SEARCH", &Session::cmd_search, r_args | r_selected | r_uid},
      {"SORT", &Session::cmd_sort, r_args | r_selected | r_uid},
      {"THREAD", &Session::cmd_thread, r_args | r_selected | r_uid},
      {"CANCELUPDATE", &Session::cmd_cancelupdate, r_args | r_selected},
      {"COPY", &Session::cmd_copy, r_args | r_selected | r_uid},
      {"MOVE", &Session::cmd_copy, r_args | r_selected | r_uid | r_writes},
      {"GENURLAUTH", &Session::cmd_genurlauth, r_args},
      {"RESETKEY", &Session::cmd_resetkey, 0},
      {"URLFETCH", &Session::cmd_urlfetch, r_args},
      {"GETQUOTAROOT", &Session::cmd_getquotaroot, r_args},
      {"GETQUOTA", &Session::cmd_getquota, r_args},
      {"SETQUOTA", &Session::cmd_setquota, r_args},
      {"GETACL", &Session::cmd_getacl, r_args},
      {"SETACL", &Session::cmd_setacl, r_args},
      {"DELETEACL", &Session::cmd_setacl, r_args},
      {"LISTRIGHTS", &Session::cmd_listrights, r_args},
      {"MYRIGHTS", &Session::cmd_myrights, r_args},
  };
  for (auto& r : rules)
    if (verb == r.name) return &r;
  return nullptr;
}

void Session::command(const std::string& raw) {
  Parser p(raw);
  auto tag = p.atom();
  if (!tag || tag->find('+') != std::string::npos || !p.sp()) return bad("*", "Missing or invalid tag");
  auto word = p.atom();
  if (!word) return bad(*tag, "Missing command");
  std::string verb = upper(*word);
  bool uid = false;
  if (verb == "UID") {
    if (!p.sp() || !(word = p.atom())) return bad(*tag, "UID needs a command");
    verb = upper(*word);
    uid = true;
  }
  // Another user's folder, or the command of one selected: its owner's
  // process answers (proxy.cpp).
  raw_ = raw;
  if (!share_ && route_shared(raw, *tag, verb, p)) return;
  const Rule* rule = find_rule(verb);
  // What belongs to the requester's own session, not the owner's process.
  static const char* const own_only[] = {"GENURLAUTH", "RESETKEY", "URLFETCH", "NOTIFY", "SETQUOTA", "COMPRESS"};
  if (share_ && rule && std::any_of(std::begin(own_only), std::end(own_only), [&](const char* v) { return verb == v; }))
    return no(*tag, "[CANNOT] Not for another user's folders");
  if (!rule || (uid && !(rule->need & r_uid))) return bad(*tag, uid ? "Unknown UID command" : "Unknown command");
  if ((rule->need & r_args) && !p.sp()) return bad(*tag, "Missing arguments");
  if ((rule->need & r_no_args) && !p.eol()) return bad(*tag, "Unexpected arguments");
  if ((rule->need & r_selected) && !sel_) return bad(*tag, "No mailbox selected");
  if ((rule->need & r_writes) && sel_->readonly) return no(*tag, "Mailbox is read-only");
  int errors_before = errors_;
  Cmd c{*tag, verb, uid, p};
  uid_cmd_ = uid;
  (this->*rule->run)(c);
  if (errors_ == errors_before) errors_ = 0;
}

// -- the small commands ------------------------------------------------------

void Session::cmd_capability(Cmd& c) {
  io_.put("* CAPABILITY " + capabilities() + "\r\n");
  ok(c.tag, "Capability completed");
}

void Session::cmd_noop(Cmd& c) {
  // A folder whose new/, cur/ and uidlist are as this session last saw
  // them has nothing to tell: a client polling a 10,000-message folder
  // costs a few stat calls, not a sync.
  if (sel_ && changed()) update(true);
  ok(c.tag, c.verb + " completed");
}

void Session::cmd_logout(Cmd& c) {
  io_.put("* BYE Logging out\r\n");
  ok(c.tag, "Logout completed");
  io_.flush();
  log::line("{}: logged out", who_);
  std::_Exit(status::ok);
}

void Session::cmd_login(Cmd& c) { bad(c.tag, "Already logged in"); }

void Session::cmd_starttls(Cmd& c) { bad(c.tag, "STARTTLS is not available"); }

void Session::cmd_id(Cmd& c) {
  io_.put("* ID (\"name\" \"postern\")\r\n");
  ok(c.tag, "ID completed");
}

void Session::cmd_namespace(Cmd& c) {
  // The user's own, other users' and the shared folders (imap_shares.hpp).
  std::string shared = public_account().empty() ? "NIL" : "((\"" + std::string(public_folders) + ".\" \".\"))";
  io_.put("* NAMESPACE ((\"\" \".\")) ((\"" + std::string(other_users) + ".\" \".\")) " + shared + "\r\n");
  ok(c.tag, "Namespace completed");
}

void Session::cmd_close(Cmd& c) {
  if (c.verb == "CLOSE" && !sel_->readonly && has_right(sel_->rights, 'e')) remove_deleted(nullptr);
  deselect();
  ok(c.tag, c.verb + " completed");
}

}  // namespace imapd
