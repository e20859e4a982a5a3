// acl: IMAP ACL (RFC 4314) over Dovecot's dovecot-acl files
// (imap/imap_acl.hpp), and the share mode of imapd-mailbox: the process
// imapd-share(8) starts as a folder's owner for another user, which checks
// every command against the ACL of the folder it names, as RFC 4314
// section 4 lists the rights (l to see a folder, r to select it and read,
// s \Seen, w the other flags, t \Deleted, e EXPUNGE, i APPEND and COPY
// into it, k CREATE under it, x DELETE and RENAME, a the ACL commands),
// and keeps the requester's \Seen in postern-seen-<requester> in the
// folder, apart from the owner's (as Dovecot's private index does).
// The requester's own session never reads these files: it relays.
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_shares.hpp"
#include "session.hpp"

namespace imapd {

void Session::set_share(const std::string& requester) {
  share_ = ShareMode{requester, groups_of(requester), share_prefix(user_)};
  who_ = log::printable(requester, 64) + " in the folders of " + who_;  // log lines say who asked
}

Rights Session::rights_on(const std::string& n) {
  if (!share_) return every_right;
  if (!valid_name(n)) return 0;
  Identity who{share_->requester, share_->groups, false};
  return rights_for(read_acl(folder_dir(root_, n)), who);
}

bool Session::allowed(const std::string& tag, const std::string& n, std::string_view letters) {
  if (!share_) return true;
  Rights r = rights_on(n);
  bool all = true;
  for (char c : letters) all = all && has_right(r, c);
  if (all) return true;
  if (!has_right(r, 'l')) no(tag, "[NONEXISTENT] No such mailbox");
  else no(tag, "[NOPERM] Permission denied (" + std::string(letters) + " needed)");
  return false;
}

// -- the requester's own \Seen ------------------------------------------------

namespace {

std::string seen_file(const std::string& dir, const std::string& requester) {
  return dir + "/postern-seen-" + requester;
}

}  // namespace

Flags Session::view_flags(const Selected& s, std::uint32_t uid, std::string_view name) {
  Flags f = flags_of(name);
  if (!s.private_seen) return f;
  f.sys = static_cast<std::uint8_t>(f.sys & ~f_seen);
  if (s.seen.count(uid)) f.sys |= f_seen;
  return f;
}

void Session::load_private_seen(Selected& s) {
  if (!share_) return;
  s.private_seen = true;
  auto text = read_folder_file(seen_file(s.folder->dir(), share_->requester), 1 << 22);
  if (!text) return;
  auto nl = text->find('\n');
  if (nl == std::string::npos || text->compare(0, 1, "V") != 0) return;
  if (text->substr(1, nl - 1) != std::to_string(s.folder->uidvalidity())) return;  // another UIDVALIDITY: none seen
  std::string rest = text->substr(nl + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.pop_back();
  if (rest.empty()) return;
  auto set = parse_seqset(rest);
  if (!set) return;
  for (auto [a, b] : *set)
    for (std::uint64_t u = a; u <= b && b - a < (1u << 22); ++u) s.seen.insert(static_cast<std::uint32_t>(u));
}

void Session::save_private_seen() {
  if (!sel_ || !sel_->private_seen) return;
  std::vector<std::uint32_t> uids(sel_->seen.begin(), sel_->seen.end());
  std::string text = "V" + std::to_string(sel_->folder->uidvalidity()) + "\n" + (uids.empty() ? "" : uid_set_text(uids)) + "\n";
  if (!write_file_atomic(seen_file(sel_->folder->dir(), share_->requester), text, 0600, false))
    log::line("{}: cannot keep the \\Seen of {}", who_, share_->requester);
}

void Session::mark_seen(Msg& m) {
  if (sel_->private_seen) {
    if (!has_right(sel_->rights, 's')) return;
    sel_->seen.insert(m.uid);
    m.flags.sys |= f_seen;
    save_private_seen();
    return;
  }
  Flags f = m.flags;
  f.sys |= f_seen;
  set_flags(m, f);
}

void Session::store_shared(const std::string& tag, const std::vector<std::size_t>& which, FlagChange how,
                           const Flags& change, bool silent, bool uid,
                           std::optional<std::uint64_t> unchangedsince) {
  Rights r = sel_->rights;
  std::uint8_t sys_ok = static_cast<std::uint8_t>((has_right(r, 'w') ? f_answered | f_flagged | f_draft : 0) |
                                                  (has_right(r, 't') ? f_deleted : 0));
  std::uint32_t kw_ok = has_right(r, 'w') ? ~0u : 0;
  bool seen_ok = has_right(r, 's');
  if (!sys_ok && !kw_ok && !seen_ok) return no(tag, "[NOPERM] Permission denied (s, w or t needed)");
  bool seen_changed = false;
  std::vector<std::uint32_t> modified;  // CONDSTORE's UNCHANGEDSINCE: changed since
  for (auto idx : which) {
    Msg& m = sel_->msgs[idx];
    if (m.gone) continue;
    if (unchangedsince && m.modseq > *unchangedsince) {
      modified.push_back(uid ? m.uid : static_cast<std::uint32_t>(idx + 1));
      continue;
    }
    Flags want = m.flags;
    if (how == FlagChange::replace) want = change;
    else if (how == FlagChange::add) want.sys |= change.sys, want.kw |= change.kw;
    else want.sys = static_cast<std::uint8_t>(want.sys & ~change.sys), want.kw &= ~change.kw;
    // The file keeps what the requester may not change, \Seen the owner's.
    Flags file = flags_of(m.name), next = file;
    next.sys = static_cast<std::uint8_t>((file.sys & ~sys_ok) | (want.sys & sys_ok));
    next.kw = (file.kw & ~kw_ok) | (want.kw & kw_ok);
    if (!(next == file)) {
      Flags shown = m.flags;
      m.flags = file;  // set_flags applies the difference from the file's flags
      if (!set_flags(m, next)) {
        m.flags = shown;
        continue;
      }
    }
    if (seen_ok && ((want.sys & f_seen) != 0) != (sel_->seen.count(m.uid) != 0)) {
      if (want.sys & f_seen) sel_->seen.insert(m.uid);
      else sel_->seen.erase(m.uid);
      seen_changed = true;
    }
    m.flags = view_flags(*sel_, m.uid, m.name);
    if (!silent) {
      std::string uid_item = uid || enabled_.qresync ? fmt::format("UID {} ", m.uid) : "";
      io_.put(fmt::format("* {} FETCH ({}FLAGS ({}){})\r\n", idx + 1, uid_item, flags_text(m), modseq_item(m)));
    }
  }
  if (seen_changed) save_private_seen();
  if (uid) update(true);
  std::sort(modified.begin(), modified.end());
  std::string code = modified.empty() ? "" : "[MODIFIED " + uid_set_text(modified) + "] ";
  ok(tag, code + (uid ? "UID STORE completed" : "STORE completed"));
}

// -- GETACL, SETACL, DELETEACL, LISTRIGHTS, MYRIGHTS ---------------------------

namespace {

bool folder_exists(const std::string& root, const std::string& n) {
  struct stat st {};
  return valid_name(n) && ::stat((folder_dir(root, n) + "/cur").c_str(), &st) == 0;
}

// The owner's entry is shown under the owner's login.
std::string wire_id(const AclEntry& e, const std::string& owner) {
  return e.id == "owner" ? (e.negative ? "-" : "") + owner : entry_to_wire(e);
}

}  // namespace

void Session::publish_acl_change() {
  std::vector<std::string> dirs;
  for (auto& f : list_folders(root_)) dirs.push_back(folder_dir(root_, f));
  publish_shares(user_, dirs);
}

void Session::cmd_getacl(Cmd& c) {
  auto name = c.p.astring();
  if (!name || !c.p.eol()) return bad(c.tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  if (!folder_exists(root_, n)) return no(c.tag, "[NONEXISTENT] No such mailbox");
  if (!allowed(c.tag, n, "a")) return;
  auto acl = read_acl(folder_dir(root_, n));
  std::string out = "* ACL " + mailbox_out(n);
  bool owner_entry = false;
  for (auto& e : acl) owner_entry = owner_entry || e.id == "owner";
  if (!owner_entry) out += " " + astring_out(user_) + " " + rights_text(every_right);
  for (auto& e : acl) out += " " + astring_out(wire_id(e, user_)) + " " + astring_out(rights_text(e.rights));
  io_.put(out + "\r\n");
  ok(c.tag, "GETACL completed");
}

void Session::cmd_setacl(Cmd& c) {
  bool remove = c.verb == "DELETEACL";
  auto name = c.p.astring();
  if (!name || !c.p.sp()) return bad(c.tag, "Bad arguments");
  auto id = c.p.astring();
  if (!id) return bad(c.tag, "Bad identifier");
  std::optional<std::string> letters;
  if (!remove) {
    if (!c.p.sp() || !(letters = c.p.astring())) return bad(c.tag, "Bad rights");
  }
  if (!c.p.eol()) return bad(c.tag, "Unexpected arguments");
  std::string n = canonical(mailbox_in(*name));
  if (!folder_exists(root_, n)) return no(c.tag, "[NONEXISTENT] No such mailbox");
  if (!allowed(c.tag, n, "a")) return;
  std::optional<AclEntry> e;
  if (*id == user_ || *id == "-" + user_) e = AclEntry{"owner", id->front() == '-', 0};
  else e = entry_from_wire(*id);
  if (!e) return bad(c.tag, "Invalid identifier " + log::printable(*id, 64));
  int mode = 0;  // replace; +1 add; -1 remove
  std::string_view r = letters ? std::string_view(*letters) : std::string_view();
  if (!r.empty() && (r[0] == '+' || r[0] == '-')) mode = r[0] == '+' ? 1 : -1, r.remove_prefix(1);
  auto rights = parse_rights(r);
  if (!rights) return bad(c.tag, "Invalid rights " + log::printable(r, 64));
  std::string dir = folder_dir(root_, n);
  auto acl = read_acl(dir);
  auto it = std::find_if(acl.begin(), acl.end(), [&](const AclEntry& x) { return x.id == e->id && x.negative == e->negative; });
  if (e->id == "owner" && it == acl.end() && !e->negative) {
    acl.push_back(AclEntry{"owner", false, every_right});  // the implicit entry made explicit
    it = acl.end() - 1;
  }
  if (remove || (mode == 0 && *rights == 0)) {
    if (it != acl.end()) acl.erase(it);
  } else {
    if (it == acl.end()) {
      acl.push_back(*e);
      it = acl.end() - 1;
    }
    it->rights = mode == 0 ? *rights : mode > 0 ? static_cast<Rights>(it->rights | *rights)
                                                : static_cast<Rights>(it->rights & ~*rights);
    if (it->rights == 0) acl.erase(it);
  }
  if (!write_acl(dir, acl)) {
    log::line("{}: cannot write the ACL of {}", who_, log::printable(n));
    return no(c.tag, "[SERVERBUG] Cannot change the ACL");
  }
  log::line("{}: {} {} {} {}", who_, c.verb, log::printable(n), log::printable(*id, 64),
            letters ? log::printable(*letters, 64) : "");
  publish_acl_change();
  ok(c.tag, c.verb + " completed");
}

void Session::cmd_listrights(Cmd& c) {
  auto name = c.p.astring();
  if (!name || !c.p.sp()) return bad(c.tag, "Bad arguments");
  auto id = c.p.astring();
  if (!id || !c.p.eol()) return bad(c.tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  if (!folder_exists(root_, n)) return no(c.tag, "[NONEXISTENT] No such mailbox");
  if (!allowed(c.tag, n, "a")) return;
  // The owner always keeps l and a (Dovecot's rule); anyone else may be
  // given each right alone, c and d standing for their pairs.
  std::string out = "* LISTRIGHTS " + mailbox_out(n) + " " + astring_out(*id);
  out += *id == user_ ? " la" : " \"\"";
  for (char r : all_rights)
    if (*id != user_ || (r != 'l' && r != 'a')) out += std::string(" ") + r;
  io_.put(out + " c d\r\n");
  ok(c.tag, "LISTRIGHTS completed");
}

void Session::cmd_myrights(Cmd& c) {
  auto name = c.p.astring();
  if (!name || !c.p.eol()) return bad(c.tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  if (!folder_exists(root_, n)) return no(c.tag, "[NONEXISTENT] No such mailbox");
  Rights r = rights_on(n);
  if (!r) return no(c.tag, "[NONEXISTENT] No such mailbox");
  io_.put("* MYRIGHTS " + mailbox_out(n) + " " + rights_text(r) + "\r\n");
  ok(c.tag, "MYRIGHTS completed");
}

}  // namespace imapd
