// folders: the folder commands of imapd-mailbox: CREATE, DELETE, RENAME,
// SUBSCRIBE/UNSUBSCRIBE and STATUS (LIST and LSUB are in list.cpp). Names
// arrive in modified UTF-7 (UTF-8 after ENABLE UTF8=ACCEPT, converted
// here) and are checked before they become directories (imap_store).
// Answers with untagged STATUS and tagged OK/NO/BAD. See imapd(8).
#include "session.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>
#include <uninorm.h>
#include <unistr.h>

#include "imap/imap_shares.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"

namespace imapd {

bool Session::status_item_known(std::string_view item) const {
  if (item == "RECENT") return !enabled_.rev2;
  if (item == "DELETED") return enabled_.rev2;
  for (const char* k : {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "APPENDLIMIT", "HIGHESTMODSEQ",
                        "MAILBOXID"})
    if (item == k) return true;
  return false;
}

namespace {

// A UTF-8 name in Unicode normalization form C: RFC 9051 5.1 and RFC 6855
// 3 let a server take a denormalised name if every command then finds the
// same mailbox under either form, so names are stored composed only.
// Invalid UTF-8 comes back unchanged (valid_name() refuses it later).
std::string nfc(const std::string& s) {
  auto u = reinterpret_cast<const std::uint8_t*>(s.data());
  if (std::all_of(s.begin(), s.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; }) ||
      u8_check(u, s.size()) != nullptr)
    return s;
  std::size_t len = 0;
  std::uint8_t* r = u8_normalize(UNINORM_NFC, u, s.size(), nullptr, &len);
  if (!r) return s;
  std::string out(reinterpret_cast<const char*>(r), len);
  std::free(r);
  return out;
}

}  // namespace

std::optional<std::string> stored_name(const std::string& root, const std::string& utf8) {
  auto as_sent = utf7_encode(utf8);
  if (!as_sent) return std::nullopt;
  std::string composed = nfc(utf8);
  if (composed == utf8) return as_sent;
  std::string n = canonical(*as_sent);
  struct stat st {};
  if (valid_name(n) && ::stat((folder_dir(root, n) + "/cur").c_str(), &st) == 0) return as_sent;
  return utf7_encode(composed);
}

// IMAP4rev2 names mailboxes in UTF-8 as UTF8=ACCEPT does (RFC 9051 5.1;
// its Appendix A keeps modified UTF-7 for IMAP4rev1 clients only).
std::string Session::mailbox_in(const std::string& sent) const {
  std::string name = sent;
  if (share_) {
    // The owner's folders, under the prefix this session was started for;
    // any other name is no folder here (a control byte fails valid_name).
    const std::string& pre = share_->prefix;
    if (name.size() <= pre.size() || name.compare(0, pre.size(), pre) != 0) return "\x01";
    name.erase(0, pre.size());
  }
  if (!enabled_.utf8 && !enabled_.rev2) return name;
  // Invalid UTF-8 stays as sent: its 8-bit bytes fail valid_name().
  return stored_name(root_, name).value_or(name);
}

std::string Session::oldname_item(const std::string& supplied) const {
  if (!enabled_.rev2 || nfc(supplied) == supplied) return {};
  auto as_sent = utf7_encode(supplied);
  // A folder stored under the name as sent is not renamed by the lookup.
  if (!as_sent || mailbox_in(supplied) == *as_sent) return {};
  return " (\"OLDNAME\" (" + mailbox_out(*as_sent) + "))";
}

std::string Session::mailbox_out(const std::string& own) const {
  std::string stored = share_ ? share_->prefix + own : own;
  if (!enabled_.utf8 && !enabled_.rev2) return astring_out(stored);
  auto u = utf7_decode(stored);
  if (!u || *u == stored) return astring_out(stored);
  // RFC 6855 section 3: UTF-8 travels in quoted strings once enabled.
  std::string out = "\"";
  for (char ch : *u) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

void Session::cmd_create(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  while (!n.empty() && n.back() == '.') n.pop_back();
  if (is_inbox(n)) return no(tag, "[ALREADYEXISTS] INBOX always exists");
  if (!share_ && in_shared_namespace(n)) return no(tag, "[CANNOT] That name is another user's or the shared namespace");
  if (!valid_name(n)) return no(tag, "[CANNOT] Invalid mailbox name");
  if (!allowed(tag, n.rfind('.') == std::string::npos ? std::string("INBOX") : n.substr(0, n.rfind('.')), "k")) return;
  if (!create_folder(root_, n)) {
    if (errno == EEXIST) return no(tag, "[ALREADYEXISTS] Mailbox exists");
    log::line("{}: cannot create {}: {}", who_, log::printable(n), std::strerror(errno));
    return no(tag, "[SERVERBUG] Cannot create the mailbox");
  }
  // RFC 9051 6.3.4: a name stored in another form than sent is told.
  if (auto item = oldname_item(*name); !item.empty()) io_.put(list_line(n, item));
  // RFC 8474: the new folder's MAILBOXID in the OK.
  std::vector<Entry> entries;
  std::string err;
  Folder f(folder_dir(root_, n));
  if (f.sync(entries, false, err) && !f.guid().empty())
    return ok(tag, "[MAILBOXID (" + f.guid() + ")] CREATE completed");
  ok(tag, "CREATE completed");
}

void Session::cmd_delete(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  if (is_inbox(n)) return no(tag, "[CANNOT] INBOX cannot be deleted");
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] No such mailbox");
  auto all = list_folders(root_);
  if (std::find(all.begin(), all.end(), n) == all.end()) return no(tag, "[NONEXISTENT] No such mailbox");
  if (!allowed(tag, n, "x")) return;
  for (auto& f : all)
    if (f.size() > n.size() && f.starts_with(n) && f[n.size()] == '.')
      return no(tag, "[INUSE] Mailbox has children; delete them first");
  if (sel_ && sel_->name == n) deselect();
  maildir_quota::Usage gone = maildir_quota::count_folder(folder_dir(root_, n));
  if (!delete_folder(root_, n)) {
    log::line("{}: cannot delete {}: {}", who_, log::printable(n), std::strerror(errno));
    return no(tag, "[SERVERBUG] Cannot delete the mailbox");
  }
  maildir_quota::record(root_, -gone.bytes, -gone.messages);
  quota_freed();
  ok(tag, "DELETE completed");
}

void Session::cmd_rename(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  auto from = p.astring();
  if (!from || !p.sp()) return bad(tag, "Bad arguments");
  auto to = p.astring();
  if (!to || !p.eol()) return bad(tag, "Bad arguments");
  std::string a = canonical(mailbox_in(*from)), b = canonical(mailbox_in(*to));
  while (!b.empty() && b.back() == '.') b.pop_back();
  if (!valid_name(a)) return no(tag, "[NONEXISTENT] No such mailbox");
  if (!valid_name(b) || is_inbox(b)) return no(tag, "[CANNOT] Invalid new name");
  auto all = list_folders(root_);
  if (std::find(all.begin(), all.end(), a) == all.end()) return no(tag, "[NONEXISTENT] No such mailbox");
  if (std::find(all.begin(), all.end(), b) != all.end()) return no(tag, "[ALREADYEXISTS] Target exists");
  if (b.starts_with(a + ".")) return no(tag, "[CANNOT] Cannot rename a mailbox into itself");
  if (!allowed(tag, a, "x") ||
      !allowed(tag, b.rfind('.') == std::string::npos ? std::string("INBOX") : b.substr(0, b.rfind('.')), "k"))
    return;
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
  std::string n = canonical(mailbox_in(*name));
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] Invalid mailbox name");
  // Subscriptions are the user's own: the owner's process keeps none.
  if (share_) return no(tag, "[CANNOT] Subscribe in your own session");
  auto subs = read_subscriptions(root_);
  auto it = std::find(subs.begin(), subs.end(), n);
  if (sub) {
    struct stat st {};
    if (!in_shared_namespace(n) && ::stat((folder_dir(root_, n) + "/cur").c_str(), &st) != 0)
      return no(tag, "[NONEXISTENT] No such mailbox");
    if (it == subs.end()) subs.push_back(n);
  } else if (it != subs.end()) {
    subs.erase(it);
  }
  if (!write_subscriptions(root_, subs)) return no(tag, "[SERVERBUG] Cannot write subscriptions");
  ok(tag, sub ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
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
    } else if (i == "DELETED") {
      for (auto& e : entries) v += (flags_of(e.name).sys & f_deleted) != 0;
    } else if (i == "SIZE") {
      for (auto& e : entries) v += e.vsize;
    } else if (i == "APPENDLIMIT") {
      v = limits_.max_literal;
    } else if (i == "HIGHESTMODSEQ") {
      // RFC 7162 section 3.1: asking for it turns CONDSTORE on.
      condstore_on();
      v = f.highestmodseq();
    } else if (i == "MAILBOXID") {
      out += (out.empty() ? "" : " ") + i + " (" + f.guid() + ")";
      continue;
    } else {
      return std::nullopt;
    }
    out += (out.empty() ? "" : " ") + i + " " + std::to_string(v);
  }
  return "* STATUS " + mailbox_out(n) + " (" + out + ")\r\n";
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
    if (!status_item_known(u))
      return bad(tag, u == "RECENT" ? "STATUS RECENT is not part of IMAP4rev2" : "Unknown status item " + log::printable(u, 40));
    items.push_back(u);
    p.sp();
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  std::string n = canonical(mailbox_in(*name));
  if (!valid_name(n)) return no(tag, "[NONEXISTENT] No such mailbox");
  if (!allowed(tag, n, "r")) return;
  auto st = status_of(n, items);
  if (!st) return no(tag, "[NONEXISTENT] No such mailbox");
  io_.put(*st);
  ok(tag, "STATUS completed");
}

}  // namespace imapd
