// imapd-mailbox: the session loop, the authenticated-state commands and
// keeping the selected folder up to date. See session.hpp and imapd(8).
#include "session.hpp"

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

namespace imapd {

namespace {

constexpr int max_errors = 30;           // commands in a row that fail with BAD
constexpr int autologout = 30 * 60;      // seconds
const char* const special_names[] = {"Archive", "Drafts", "Junk", "Sent", "Trash"};



struct timespec mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
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

Session::Session(std::string root, NetIO& io, std::string who) : root_(std::move(root)), io_(io), who_(std::move(who)) {}

std::string Session::capabilities() {
  return "IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE NAMESPACE SPECIAL-USE ENABLE ID UNSELECT CHILDREN LIST-EXTENDED "
         "LIST-STATUS";
}

void Session::run(const std::string& login_tag) {
  // The special-use folders, as Dovecot's auto=subscribe makes them.
  auto subs = read_subscriptions(root_);
  bool subs_changed = false;
  for (const char* n : special_names) {
    struct stat st {};
    if (::stat(folder_dir(root_, n).c_str(), &st) == 0) continue;
    if (!create_folder(root_, n) && errno != EEXIST) continue;
    if (std::find(subs.begin(), subs.end(), n) == subs.end()) subs.push_back(n), subs_changed = true;
  }
  if (subs_changed) write_subscriptions(root_, subs);

  if (login_tag.empty())
    io_.put("* PREAUTH [CAPABILITY " + capabilities() + "] postern imapd ready\r\n");
  else
    io_.put(login_tag + " OK [CAPABILITY " + capabilities() + "] Logged in\r\n");
  io_.set_timeout(autologout);
  std::string raw;
  for (;;) {
    auto r = read_command(io_, limits_, raw);
    switch (r) {
      case ReadStatus::ok:
        command(raw);
        break;
      case ReadStatus::timeout:
        bye("Autologout; idle for too long", "timed out");
      case ReadStatus::eof:
      case ReadStatus::error:
        log::line("{}: connection closed", who_);
        std::_Exit(0);
      case ReadStatus::too_long:
        bad(tag_of(raw).value_or("*"), "Command line too long");
        log::line("{}: command line too long", who_);
        break;
      case ReadStatus::literal_big:
        log::line("{}: literal too large", who_);
        no(tag_of(raw).value_or("*"), "[TOOBIG] Literal too large");
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
  std::_Exit(0);
}

void Session::bad(const std::string& tag, const std::string& text) {
  io_.put(tag + " BAD " + text + "\r\n");
  if (++errors_ >= max_errors) bye("Too many invalid commands", "too many invalid commands");
}

void Session::command(const std::string& raw) {
  Parser p(raw);
  auto tag = p.atom();
  if (!tag || tag->find('+') != std::string::npos || !p.sp()) return bad("*", "Missing or invalid tag");
  auto word = p.atom();
  if (!word) return bad(*tag, "Missing command");
  std::string cmd = upper(*word);
  bool uid = false;
  if (cmd == "UID") {
    if (!p.sp() || !(word = p.atom())) return bad(*tag, "UID needs a command");
    cmd = upper(*word);
    uid = true;
    if (cmd != "FETCH" && cmd != "STORE" && cmd != "SEARCH" && cmd != "COPY" && cmd != "MOVE" && cmd != "EXPUNGE")
      return bad(*tag, "Unknown UID command");
  }
  const std::string& t = *tag;
  bool args = p.sp();
  auto need_eol = [&]() {
    if (!p.eol()) {
      bad(t, "Unexpected arguments");
      return false;
    }
    return true;
  };
  int errors_before = errors_;
  if (cmd == "CAPABILITY") {
    if (args || !need_eol()) return bad(t, "No arguments expected");
    io_.put("* CAPABILITY " + capabilities() + "\r\n");
    ok(t, "Capability completed");
  } else if (cmd == "NOOP" || cmd == "CHECK") {
    if (cmd == "CHECK" && !sel_) return bad(t, "No mailbox selected");
    if (sel_) update(true);
    ok(t, cmd + " completed");
  } else if (cmd == "LOGOUT") {
    io_.put("* BYE Logging out\r\n");
    ok(t, "Logout completed");
    io_.flush();
    log::line("{}: logged out", who_);
    std::_Exit(0);
  } else if (cmd == "LOGIN" || cmd == "AUTHENTICATE") {
    bad(t, "Already logged in");
  } else if (cmd == "STARTTLS") {
    bad(t, "STARTTLS is not available");
  } else if (cmd == "ID") {
    io_.put("* ID (\"name\" \"postern\")\r\n");
    ok(t, "ID completed");
  } else if (cmd == "ENABLE") {
    io_.put("* ENABLED\r\n");
    ok(t, "Enabled");
  } else if (cmd == "NAMESPACE") {
    io_.put("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
    ok(t, "Namespace completed");
  } else if (!args && (cmd == "SELECT" || cmd == "EXAMINE" || cmd == "CREATE" || cmd == "DELETE" ||
                       cmd == "RENAME" || cmd == "SUBSCRIBE" || cmd == "UNSUBSCRIBE" || cmd == "LIST" ||
                       cmd == "LSUB" || cmd == "STATUS" || cmd == "APPEND" || cmd == "FETCH" || cmd == "STORE" ||
                       cmd == "SEARCH" || cmd == "COPY" || cmd == "MOVE")) {
    bad(t, "Missing arguments");
  } else if (cmd == "SELECT" || cmd == "EXAMINE") {
    cmd_select(t, p, cmd == "EXAMINE");
  } else if (cmd == "CREATE") {
    cmd_create(t, p);
  } else if (cmd == "DELETE") {
    cmd_delete(t, p);
  } else if (cmd == "RENAME") {
    cmd_rename(t, p);
  } else if (cmd == "SUBSCRIBE" || cmd == "UNSUBSCRIBE") {
    cmd_subscribe(t, p, cmd == "SUBSCRIBE");
  } else if (cmd == "LIST" || cmd == "LSUB") {
    cmd_list(t, p, cmd == "LSUB");
  } else if (cmd == "STATUS") {
    cmd_status(t, p);
  } else if (cmd == "APPEND") {
    cmd_append(t, p);
  } else if (cmd == "IDLE") {
    if (!need_eol()) return;
    cmd_idle(t);
  } else if (!sel_ && (cmd == "CLOSE" || cmd == "UNSELECT" || cmd == "EXPUNGE" || cmd == "FETCH" ||
                       cmd == "STORE" || cmd == "SEARCH" || cmd == "COPY" || cmd == "MOVE")) {
    bad(t, "No mailbox selected");
  } else if (cmd == "CLOSE" || cmd == "UNSELECT") {
    if (!need_eol()) return;
    if (cmd == "CLOSE" && !sel_->readonly) {
      for (auto& m : sel_->msgs)
        if ((m.flags.sys & f_deleted) && !m.gone) ::unlink(path_of(m).c_str());
      std::vector<Entry> e;
      std::string err;
      sel_->folder->sync(e, false, err);
    }
    deselect();
    ok(t, cmd + " completed");
  } else if (cmd == "EXPUNGE") {
    if (uid) {
      auto set = parse_seqset(p.word());
      if (!set || !p.eol()) return bad(t, "Bad UID set");
      cmd_expunge(t, &*set);
    } else {
      if (!need_eol()) return;
      cmd_expunge(t, nullptr);
    }
  } else if (cmd == "FETCH") {
    cmd_fetch(t, p, uid);
  } else if (cmd == "STORE") {
    cmd_store(t, p, uid);
  } else if (cmd == "SEARCH") {
    cmd_search(t, p, uid);
  } else if (cmd == "COPY" || cmd == "MOVE") {
    cmd_copy(t, p, uid, cmd == "MOVE");
  } else {
    bad(t, "Unknown command");
  }
  if (errors_ == errors_before) errors_ = 0;
}

// -- selecting (the other folder commands are in folders.cpp) ------------

void Session::cmd_select(const std::string& tag, Parser& p, bool readonly) {
  auto name = p.astring();
  if (!name) return bad(tag, "Bad mailbox name");
  if (p.sp()) {  // select parameters (CONDSTORE etc.): none supported
    return bad(tag, "Unsupported SELECT parameters");
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  deselect();
  std::string n = canonical(*name);
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] Invalid mailbox name");
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (::stat((dir + "/cur").c_str(), &st) != 0) return no(tag, "[NONEXISTENT] Mailbox does not exist");
  auto s = std::make_unique<Selected>();
  s->name = n;
  s->readonly = readonly;
  s->folder = std::make_unique<Folder>(dir);
  std::vector<Entry> entries;
  std::string err;
  s->stamp[0] = mtime_of(dir + "/new");
  s->stamp[1] = mtime_of(dir + "/cur");
  if (!s->folder->sync(entries, !readonly, err)) {
    log::line("{}: {}", who_, err);
    return no(tag, "[SERVERBUG] Cannot open the mailbox");
  }
  s->stamp[2] = mtime_of(dir + "/postern-uidlist");
  s->keywords = s->folder->keywords();
  std::size_t recent = 0, unseen = 0;
  s->msgs.reserve(entries.size());
  for (auto& e : entries) {
    Msg m;
    m.uid = e.uid;
    m.flags = flags_of(e.name);
    m.name = std::move(e.name);
    m.vsize = e.vsize;
    m.recent = !readonly && e.uid >= s->folder->recent_from();
    if (m.recent) ++recent;
    if (!unseen && !(m.flags.sys & f_seen)) unseen = s->msgs.size() + 1;
    s->msgs.push_back(std::move(m));
  }
  sel_ = std::move(s);
  headers_.clear();
  headers_bytes_ = 0;
  cached_.reset();
  send_flags_list();
  io_.put(fmt::format("* {} EXISTS\r\n* {} RECENT\r\n", sel_->msgs.size(), recent));
  if (unseen) io_.put(fmt::format("* OK [UNSEEN {}] First unseen\r\n", unseen));
  io_.put(fmt::format("* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
                      sel_->folder->uidvalidity(), sel_->folder->uidnext()));
  ok(tag, readonly ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
}

void Session::send_flags_list() {
  std::string kws;
  for (auto& k : sel_->keywords)
    if (!k.empty()) kws += " " + k;
  io_.put("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kws + ")\r\n");
  if (sel_->readonly)
    io_.put("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
  else
    io_.put("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kws + " \\*)] Flags permitted\r\n");
  sel_->keywords_sent = sel_->keywords.size();
}

std::uint32_t Session::keyword_bits(const std::vector<std::string>& kws, Folder& f, bool create, bool& good) {
  std::uint32_t bits = 0;
  good = true;
  for (auto& k : kws) {
    int i = f.keyword(k, create);
    if (i < 0) {
      if (create) good = false;
      continue;
    }
    bits |= 1u << i;
  }
  return bits;
}

void Session::cmd_append(const std::string& tag, Parser& p) {
  auto name = p.astring();
  if (!name || !p.sp()) return bad(tag, "Bad arguments");
  Flags flags;
  std::vector<std::string> kws;
  if (p.peek() == '(') {
    auto fl = p.flag_list(false);
    if (!fl || !p.sp()) return bad(tag, "Bad flag list");
    for (auto& f : *fl) {
      std::string u = upper(f);
      if (u == "\\SEEN") flags.sys |= f_seen;
      else if (u == "\\ANSWERED") flags.sys |= f_answered;
      else if (u == "\\FLAGGED") flags.sys |= f_flagged;
      else if (u == "\\DELETED") flags.sys |= f_deleted;
      else if (u == "\\DRAFT") flags.sys |= f_draft;
      else if (u == "\\RECENT" || f[0] == '\\') return bad(tag, "Invalid flag " + log::printable(f, 40));
      else kws.push_back(f);
    }
  }
  std::optional<std::time_t> when;
  if (p.peek() == '"') {
    auto d = p.quoted();
    if (!d || !(when = parse_date_time(*d)) || !p.sp()) return bad(tag, "Bad date-time");
  }
  auto data = p.literal();
  if (!data || !p.eol()) return bad(tag, "Bad message literal");
  std::string n = canonical(*name);
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (!valid_name(n) || ::stat((dir + "/cur").c_str(), &st) != 0) return no(tag, "[TRYCREATE] No such mailbox");
  if (data->empty()) return no(tag, "Empty message");
  Folder folder(dir);
  bool good;
  flags.kw = keyword_bits(kws, folder, true, good);
  maildir::Writer w(dir + "/");
  std::string lf = to_lf(*data);
  if (!w.open() || !w.write(lf) || !w.commit(name_with("", flags).substr(1))) {
    log::line("{}: APPEND to {} failed: {}", who_, log::printable(n), w.error());
    return no(tag, "[SERVERBUG] Cannot store the message");
  }
  if (when) {
    struct timespec ts[2] = {{*when, 0}, {*when, 0}};
    ::utimensat(AT_FDCWD, w.path().c_str(), ts, 0);
  }
  std::string base(base_of(w.path().substr(w.path().rfind('/') + 1)));
  std::vector<Entry> entries;
  std::string err;
  std::uint32_t uid = 0;
  if (sel_ && sel_->name == n) {
    update(false);
    for (auto& m : sel_->msgs)
      if (base_of(m.name) == base) uid = m.uid;
  } else if (folder.sync(entries, false, err)) {
    for (auto& e : entries)
      if (base_of(e.name) == base) uid = e.uid;
  }
  if (uid)
    ok(tag, fmt::format("[APPENDUID {} {}] APPEND completed", sel_ && sel_->name == n ? sel_->folder->uidvalidity()
                                                                                    : folder.uidvalidity(), uid));
  else
    ok(tag, "APPEND completed");
}

void Session::cmd_idle(const std::string& tag) {
  io_.put("+ idling\r\n");
  if (sel_) update(true);
  io_.flush();
  std::time_t start = std::time(nullptr);
  io_.set_timeout(2);
  std::string line;
  for (;;) {
    auto r = io_.line(line, 1024);
    if (r == NetIO::Read::line || r == NetIO::Read::partial) {
      io_.set_timeout(autologout);
      std::string_view l = line;
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
      if (r == NetIO::Read::line && iequal(l, "DONE")) return ok(tag, "IDLE terminated");
      return bad(tag, "Expected DONE");
    }
    if (r != NetIO::Read::timeout) {
      log::line("{}: connection closed in IDLE", who_);
      std::_Exit(0);
    }
    if (std::time(nullptr) - start >= autologout) bye("Autologout; idle for too long", "IDLE timed out");
    if (sel_ && changed()) {
      update(true);
      io_.flush();
    }
  }
}

// -- keeping up to date ----------------------------------------------------

bool Session::changed() {
  const std::string& dir = sel_->folder->dir();
  struct timespec now[3] = {mtime_of(dir + "/new"), mtime_of(dir + "/cur"), mtime_of(dir + "/postern-uidlist")};
  bool diff = false;
  for (int i = 0; i < 3; ++i)
    if (now[i].tv_sec != sel_->stamp[i].tv_sec || now[i].tv_nsec != sel_->stamp[i].tv_nsec) diff = true;
  // A directory changed within this second may change again unseen.
  if (now[1].tv_sec >= std::time(nullptr) - 1 || now[0].tv_sec >= std::time(nullptr) - 1) diff = true;
  return diff;
}

void Session::update(bool expunges) {
  if (!sel_) return;
  auto& s = *sel_;
  const std::string& dir = s.folder->dir();
  s.stamp[0] = mtime_of(dir + "/new");
  s.stamp[1] = mtime_of(dir + "/cur");
  std::vector<Entry> entries;
  std::string err;
  if (!s.folder->sync(entries, !s.readonly, err)) {
    log::line("{}: {}", who_, err);
    return;
  }
  s.stamp[2] = mtime_of(dir + "/postern-uidlist");
  std::vector<Msg> next;
  next.reserve(entries.size());
  std::size_t j = 0;
  bool new_keywords = false;
  std::vector<std::string> fetches;
  std::vector<std::size_t> expunged;  // sequence numbers, in order
  std::size_t seq = 0;                // sequence number in the resulting view
  for (auto& m : s.msgs) {
    while (j < entries.size() && entries[j].uid < m.uid) ++j;  // cannot happen: new UIDs are higher
    if (j < entries.size() && entries[j].uid == m.uid) {
      Msg n = m;
      n.gone = false;
      n.name = entries[j].name;
      Flags f = flags_of(n.name);
      if (!(f == m.flags)) {
        if (f.kw & ~((1u << s.keywords.size()) - 1)) new_keywords = true;
        n.flags = f;
        fetches.push_back(std::to_string(seq + 1));
        fetches.back() += "\n";
      }
      next.push_back(std::move(n));
      ++seq;
      ++j;
    } else if (expunges) {
      expunged.push_back(seq + 1 + expunged.size());
    } else {
      Msg n = m;
      n.gone = true;
      next.push_back(std::move(n));
      ++seq;
    }
  }
  std::size_t old_count = next.size();
  std::size_t recent = 0;
  for (auto& m : next) recent += m.recent;
  for (; j < entries.size(); ++j) {
    Msg m;
    m.uid = entries[j].uid;
    m.flags = flags_of(entries[j].name);
    m.name = entries[j].name;
    m.vsize = entries[j].vsize;
    m.recent = !s.readonly && m.uid >= s.folder->recent_from();
    recent += m.recent;
    if (m.flags.kw & ~((1u << s.keywords.size()) - 1)) new_keywords = true;
    next.push_back(std::move(m));
  }
  // EXPUNGE responses: each number counts the earlier ones as gone.
  std::size_t removed = 0;
  for (auto n : expunged) io_.put(fmt::format("* {} EXPUNGE\r\n", n - removed++));
  bool grew = next.size() != old_count || !expunged.empty();
  s.msgs = std::move(next);
  if (new_keywords) {
    s.keywords = s.folder->keywords();
    send_flags_list();
  }
  for (auto& f : fetches) {
    std::size_t n = std::stoul(f);
    io_.put(fmt::format("* {} FETCH (UID {} FLAGS ({}))\r\n", n, s.msgs[n - 1].uid, flags_text(s.msgs[n - 1])));
  }
  if (grew && s.msgs.size() != old_count) io_.put(fmt::format("* {} EXISTS\r\n* {} RECENT\r\n", s.msgs.size(), recent));
}

std::string Session::flags_text(const Msg& m) const {
  std::string out;
  auto add = [&](const std::string& f) { out += (out.empty() ? "" : " ") + f; };
  if (m.flags.sys & f_answered) add("\\Answered");
  if (m.flags.sys & f_flagged) add("\\Flagged");
  if (m.flags.sys & f_deleted) add("\\Deleted");
  if (m.flags.sys & f_seen) add("\\Seen");
  if (m.flags.sys & f_draft) add("\\Draft");
  for (std::size_t i = 0; i < 26; ++i)
    if ((m.flags.kw & (1u << i)) && i < sel_->keywords.size() && !sel_->keywords[i].empty()) add(sel_->keywords[i]);
  if (m.recent) add("\\Recent");
  return out;
}

}  // namespace imapd
