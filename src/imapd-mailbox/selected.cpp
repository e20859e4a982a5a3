// imapd-mailbox: the selected folder: SELECT and EXAMINE, and keeping the
// folder up to date (new messages, flags changed and messages removed by
// other sessions and deliveries) with the untagged responses that say so.
// See session.hpp and imapd(8).
#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

namespace {

struct timespec mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
}

}  // namespace

void Session::cmd_select(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool readonly = c.verb == "EXAMINE";
  auto name = p.astring();
  if (!name) return bad(tag, "Bad mailbox name");
  SelectParams params;
  std::string why;
  if (p.sp() && !parse_select_params(p, params, why)) return bad(tag, why);
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  // QRESYNC's clients learn here that the old folder's responses end.
  if (sel_) io_.put("* OK [CLOSED] Previous mailbox closed\r\n");
  deselect();
  std::string n = canonical(mailbox_in(*name));
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] Invalid mailbox name");
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (::stat((dir + "/cur").c_str(), &st) != 0) return no(tag, "[NONEXISTENT] Mailbox does not exist");
  if (!allowed(tag, n, "r")) return;
  auto s = std::make_unique<Selected>();
  s->name = n;
  s->rights = rights_on(n);
  // RFC 4314 section 4: with none of s, w, t and e the folder is read-only.
  readonly = readonly || !(s->rights & (right('s') | right('w') | right('t') | right('e')));
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
  s->stamp[2] = mtime_of(dir + "/dovecot-uidlist");
  s->keywords = s->folder->keywords();
  load_private_seen(*s);
  std::size_t recent = 0, unseen = 0;
  s->msgs.reserve(entries.size());
  for (auto& e : entries) {
    Msg m;
    m.uid = e.uid;
    m.flags = view_flags(*s, e.uid, e.name);
    m.name = std::move(e.name);
    m.vsize = e.vsize;
    m.modseq = e.modseq;
    m.recent = e.uid >= s->folder->recent_from();
    if (m.recent) ++recent;
    if (!unseen && !(m.flags.sys & f_seen)) unseen = s->msgs.size() + 1;
    s->msgs.push_back(std::move(m));
  }
  sel_ = std::move(s);
  headers_.clear();
  headers_bytes_ = 0;
  cached_.reset();
  send_flags_list();
  // IMAP4rev2 (RFC 9051 6.3.2) has neither RECENT nor the UNSEEN code,
  // and tells the mailbox's name and attributes in a LIST response.
  if (enabled_.rev2) {
    io_.put(fmt::format("* {} EXISTS\r\n", sel_->msgs.size()));
    io_.put(list_line(sel_->name, oldname_item(*name)));
  } else {
    io_.put(fmt::format("* {} EXISTS\r\n* {} RECENT\r\n", sel_->msgs.size(), recent));
    if (unseen) io_.put(fmt::format("* OK [UNSEEN {}] First unseen\r\n", unseen));
  }
  io_.put(fmt::format("* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
                      sel_->folder->uidvalidity(), sel_->folder->uidnext()));
  if (params.condstore || params.qresync) enabled_.condstore = true;
  if (enabled_.condstore)
    io_.put(fmt::format("* OK [HIGHESTMODSEQ {}] Highest\r\n", sel_->folder->highestmodseq()));
  if (!sel_->folder->guid().empty()) io_.put("* OK [MAILBOXID (" + sel_->folder->guid() + ")] Ok\r\n");
  if (params.qresync) qresync_select(params);
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


// -- keeping up to date ----------------------------------------------------

bool Session::changed() {
  const std::string& dir = sel_->folder->dir();
  struct timespec now[3] = {mtime_of(dir + "/new"), mtime_of(dir + "/cur"), mtime_of(dir + "/dovecot-uidlist")};
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
  s.stamp[2] = mtime_of(dir + "/dovecot-uidlist");
  std::vector<Msg> next;
  next.reserve(entries.size());
  std::size_t j = 0;
  bool new_keywords = false;
  std::vector<std::size_t> fetches;  // sequence numbers in the resulting view
  std::vector<std::size_t> expunged;  // sequence numbers, in order
  std::vector<std::uint32_t> vanished;  // their UIDs (QRESYNC)
  std::size_t seq = 0;                // sequence number in the resulting view
  for (auto& m : s.msgs) {
    while (j < entries.size() && entries[j].uid < m.uid) ++j;  // cannot happen: new UIDs are higher
    if (j < entries.size() && entries[j].uid == m.uid) {
      Msg n = m;
      n.gone = false;
      n.name = entries[j].name;
      n.modseq = entries[j].modseq;
      Flags f = view_flags(s, n.uid, n.name);
      // With CONDSTORE a new MODSEQ is news even when the flags came back.
      if (!(f == m.flags) || (enabled_.condstore && n.modseq != m.modseq)) {
        if (f.kw & ~((1u << s.keywords.size()) - 1)) new_keywords = true;
        n.flags = f;
        fetches.push_back(seq + 1);
      }
      next.push_back(std::move(n));
      ++seq;
      ++j;
    } else if (expunges) {
      expunged.push_back(seq + 1 + expunged.size());
      vanished.push_back(m.uid);
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
    m.flags = view_flags(s, entries[j].uid, entries[j].name);
    m.name = entries[j].name;
    m.vsize = entries[j].vsize;
    m.modseq = entries[j].modseq;
    m.recent = m.uid >= s.folder->recent_from();
    recent += m.recent;
    if (m.flags.kw & ~((1u << s.keywords.size()) - 1)) new_keywords = true;
    next.push_back(std::move(m));
  }
  // EXPUNGE responses: each number counts the earlier ones as gone.
  std::size_t removed = 0;
  if (enabled_.qresync && !vanished.empty())  // RFC 7162 3.2.10: VANISHED replaces EXPUNGE
    io_.put("* VANISHED " + uid_set_text(vanished) + "\r\n");
  else
    for (auto n : expunged) io_.put(fmt::format("* {} EXPUNGE\r\n", n - removed++));
  bool grew = next.size() != old_count || !expunged.empty();
  s.msgs = std::move(next);
  if (new_keywords) {
    s.keywords = s.folder->keywords();
    send_flags_list();
  }
  for (auto n : fetches) {
    const Msg& m = s.msgs[n - 1];
    // UID only where Dovecot sends it: in a UID command, and always with QRESYNC (RFC 7162 3.2.4).
    std::string uid_item = uid_cmd_ || enabled_.qresync ? fmt::format("UID {} ", m.uid) : "";
    io_.put(fmt::format("* {} FETCH ({}FLAGS ({}){})\r\n", n, uid_item, flags_text(m), modseq_item(m)));
  }
  if (grew && s.msgs.size() != old_count)
    io_.put(enabled_.rev2 ? fmt::format("* {} EXISTS\r\n", s.msgs.size())
                          : fmt::format("* {} EXISTS\r\n* {} RECENT\r\n", s.msgs.size(), recent));
  context_updates();  // CONTEXT=SEARCH (context.cpp)
  if (s.msgs.size() > old_count) notify_new_messages(old_count);  // NOTIFY's MessageNew FETCH (notify.cpp)
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
  if (m.recent && !enabled_.rev2) add("\\Recent");  // RFC 9051 dropped the flag
  return out;
}

}  // namespace imapd
