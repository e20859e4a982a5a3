// imapd-mailbox: reading the selected folder's messages (for FETCH and
// SEARCH) and the commands that change them: STORE, COPY, MOVE, EXPUNGE.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_crlf_file.hpp"
#include "mail/maildir.hpp"
#include "session.hpp"

namespace imapd {

namespace {

constexpr std::size_t header_budget = 32 << 20;
constexpr std::size_t max_header = 1 << 20;

}  // namespace

std::string uid_set_text(std::vector<std::uint32_t> uids) {
  std::string out;
  std::size_t i = 0;
  while (i < uids.size()) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(uids[i]) : fmt::format("{}:{}", uids[i], uids[j]);
    i = j + 1;
  }
  return out;
}

std::optional<std::vector<std::size_t>> Session::resolve(std::string_view text, bool uid) {
  if (text == "$") return saved_result();  // SEARCHRES (search.cpp)
  auto parsed_set = parse_seqset(text);
  if (!parsed_set) return std::nullopt;
  auto& msgs = sel_->msgs;
  std::vector<std::size_t> out;
  // Merged first: "1:*,1:*,..." is one range, and each message is
  // listed once whatever the set repeats.
  if (uid) {
    auto set = normalize(*parsed_set, msgs.empty() ? 0 : msgs.back().uid);
    for (auto [lo, hi] : set) {
      auto it = std::lower_bound(msgs.begin(), msgs.end(), lo, [](const Msg& m, std::uint32_t u) { return m.uid < u; });
      for (; it != msgs.end() && it->uid <= hi; ++it) out.push_back(static_cast<std::size_t>(it - msgs.begin()));
    }
  } else {
    auto set = normalize(*parsed_set, static_cast<std::uint32_t>(msgs.size()));
    for (auto [lo, hi] : set) {
      if (lo == 0 || hi > msgs.size()) return std::nullopt;
      for (std::uint32_t n = lo; n <= hi; ++n) out.push_back(n - 1);
    }
  }
  return out;
}

std::string Session::path_of(Msg& m) { return sel_->folder->dir() + "/cur/" + m.name; }

void Session::refresh_names() {
  // Another session renamed files (flag changes): find them by base name.
  std::unordered_map<std::string, std::string> by_base;
  DIR* d = ::opendir((sel_->folder->dir() + "/cur").c_str());
  if (!d) return;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n[0] != '.') by_base.emplace(std::string(base_of(n)), n);
  }
  ::closedir(d);
  for (auto& m : sel_->msgs) {
    auto it = by_base.find(std::string(base_of(m.name)));
    if (it != by_base.end()) m.name = it->second;
  }
}

std::optional<std::string> Session::read_header(Msg& m) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path_of(m).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.ok()) {
      if (errno == ENOENT && attempt == 0) {
        refresh_names();
        continue;
      }
      return std::nullopt;
    }
    std::string data;
    char buf[65536];
    for (;;) {
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return std::nullopt;
      if (r == 0) break;
      data.append(buf, static_cast<std::size_t>(r));
      auto e = data.find("\n\n");
      auto e2 = data.find("\n\r\n");
      if (data.starts_with("\n")) return std::string("\n");
      if (e != std::string::npos && (e2 == std::string::npos || e < e2)) return data.substr(0, e + 2);
      if (e2 != std::string::npos) return data.substr(0, e2 + 3);
      if (data.size() > max_header) return data;
    }
    return data;
  }
  return std::nullopt;
}

const Message* Session::parsed(Msg& m, bool header_only) {
  if (cached_ && cached_uid_ == m.uid && (!cached_header_only_ || header_only)) return cached_.get();
  if (header_only) {
    auto it = headers_.find(m.uid);
    if (it == headers_.end()) {
      auto h = read_header(m);
      if (!h) return nullptr;
      std::string crlf = to_crlf(*h);
      if (headers_bytes_ + crlf.size() > header_budget) {
        headers_.clear();
        headers_bytes_ = 0;
      }
      headers_bytes_ += crlf.size();
      it = headers_.emplace(m.uid, std::move(crlf)).first;
    }
    cached_ = std::make_unique<Message>(it->second);
  } else {
    // Read straight into its CRLF form, after the last one is let go:
    // one message in memory, once.
    cached_.reset();
    CrlfFile file;
    if (!file.open(path_of(m))) {
      refresh_names();
      if (!file.open(path_of(m))) return nullptr;
    }
    std::string text;
    text.reserve(file.size());
    if (!file.copy(0, file.size(), [&](std::string_view b) {
          text += b;
          return true;
        }))
      return nullptr;
    cached_ = std::make_unique<Message>(std::move(text));
  }
  cached_uid_ = m.uid;
  cached_header_only_ = header_only;
  return cached_.get();
}

std::optional<std::time_t> Session::internal_date(Msg& m) {
  struct stat st {};
  if (::stat(path_of(m).c_str(), &st) != 0) {
    refresh_names();
    if (::stat(path_of(m).c_str(), &st) != 0) return std::nullopt;
  }
  return st.st_mtime;
}

bool Session::set_flags(Msg& m, const Flags& f) {
  if (f == m.flags) return true;
  // Only the difference from what this session saw is applied, by the
  // store, to the flags the message has now (another session's changes
  // stay).
  Flags add{static_cast<std::uint8_t>(f.sys & ~m.flags.sys), f.kw & ~m.flags.kw, {}};
  Flags del{static_cast<std::uint8_t>(m.flags.sys & ~f.sys), m.flags.kw & ~f.kw, {}};
  std::vector<FlagResult> r;
  std::string err;
  for (auto [how, what] : {std::pair{FlagChange::add, add}, std::pair{FlagChange::remove, del}}) {
    if (!what.sys && !what.kw) continue;
    if (!sel_->folder->change_flags({m.uid}, how, what, 0, r, err) || r.empty() || r[0].gone) {
      if (!err.empty()) log::line("{}: {}", who_, err);
      return false;
    }
    m.name = r[0].name;
    m.flags = r[0].flags;
    m.modseq = r[0].modseq;
  }
  return true;
}

// A FETCH that could not read some messages: those another session
// expunged are answered as Dovecot answers them (RFC 2180 4.1.2: the rest
// is sent, the tagged OK says [EXPUNGEISSUED]); any other failure is ours.
void Session::fetch_failed(const std::string& tag, bool uid) {
  update(false);
  bool gone = std::any_of(sel_->msgs.begin(), sel_->msgs.end(), [](const Msg& m) { return m.gone; });
  if (uid) update(true);
  if (gone) return ok(tag, "[EXPUNGEISSUED] Some messages were already expunged");
  log::line("{}: FETCH could not read some messages of {}", who_, sel_->name);
  no(tag, "[SERVERBUG] Some messages could not be read");
}

// -- STORE -------------------------------------------------------------------

void Session::cmd_store(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool uid = c.uid;
  auto which = resolve(p.word(), uid);
  if (!which) return bad(tag, "Invalid message set");
  if (!p.sp()) return bad(tag, "Missing arguments");
  std::optional<std::uint64_t> unchangedsince;
  std::string why;
  if (p.peek() == '(') {
    if (!parse_store_modifiers(p, unchangedsince, why)) return bad(tag, why);
    if (!p.sp()) return bad(tag, "Missing arguments");
    condstore_on();
  }
  auto what = p.atom();
  if (!what || !p.sp()) return bad(tag, "Missing arguments");
  std::string w = upper(*what);
  bool silent = w.ends_with(".SILENT");
  if (silent) w.resize(w.size() - 7);
  int mode = w == "FLAGS" ? 0 : w == "+FLAGS" ? 1 : w == "-FLAGS" ? -1 : 2;
  if (mode == 2) return bad(tag, "Expected FLAGS, +FLAGS or -FLAGS");
  auto list = p.flag_list(true);
  if (!list || !p.eol()) return bad(tag, "Bad flag list");
  Flags change;
  std::vector<std::string> kws;
  for (auto& f : *list) {
    if (std::uint8_t bit = system_flag(f)) change.sys |= bit;
    else if (f[0] == '\\') return bad(tag, "Invalid flag " + log::printable(f, 40));  // \\Recent too: only the server sets it
    else kws.push_back(f);
  }
  bool good = true;
  // A new keyword is made only by whom may set it (w, in share mode).
  change.kw = keyword_bits(kws, *sel_->folder, mode >= 0 && has_right(sel_->rights, 'w'), good);
  if (!good) return no(tag, "[LIMIT] Too many keywords in this mailbox");
  auto known = sel_->keywords.size();
  sel_->keywords = sel_->folder->keywords();
  if (sel_->keywords.size() != known) send_flags_list();
  // The change is made by the store under the folder lock, to each
  // message's flags as they are now (another session may have changed
  // them since this one looked): no lost updates.
  std::vector<std::uint32_t> uids;
  std::vector<std::uint32_t> modified;  // UNCHANGEDSINCE failed: sequence numbers or UIDs
  for (auto idx : *which) {
    if (sel_->msgs[idx].gone) continue;
    // UNCHANGEDSINCE 0 passes no message: every MODSEQ is above it.
    if (unchangedsince && *unchangedsince == 0) modified.push_back(uid ? sel_->msgs[idx].uid : idx + 1);
    else uids.push_back(sel_->msgs[idx].uid);
  }
  FlagChange how = mode == 0 ? FlagChange::replace : mode == 1 ? FlagChange::add : FlagChange::remove;
  if (sel_->private_seen) return store_shared(tag, *which, how, change, silent, uid, unchangedsince);
  std::vector<FlagResult> results;
  std::string err;
  if (!uids.empty() && !sel_->folder->change_flags(uids, how, change, unchangedsince.value_or(0), results, err)) {
    log::line("{}: {}", who_, err);
    return no(tag, "[SERVERBUG] Cannot change flags");
  }
  // Keywords another session created show in FLAGS before the client meets them.
  std::uint32_t known_kw = sel_->keywords.size() >= 32 ? ~0u : (1u << sel_->keywords.size()) - 1;
  if (std::any_of(results.begin(), results.end(), [&](const FlagResult& r) { return r.flags.kw & ~known_kw; })) {
    sel_->keywords = sel_->folder->keywords();
    send_flags_list();
  }
  std::size_t k = 0;
  for (auto idx : *which) {
    Msg& m = sel_->msgs[idx];
    if (m.gone || k >= results.size() || results[k].uid != m.uid) continue;
    const FlagResult& r = results[k++];
    if (r.gone) {  // expunged elsewhere: nothing to change (Dovecot says OK too)
      m.gone = true;
      continue;
    }
    if (r.skipped) {
      modified.push_back(uid ? m.uid : idx + 1);
      continue;
    }
    bool new_modseq = r.modseq != m.modseq;
    m.name = r.name;
    m.flags = r.flags;
    m.modseq = r.modseq;
    std::string uid_item = uid || enabled_.qresync ? fmt::format("UID {} ", m.uid) : "";
    if (!silent)
      io_.put(fmt::format("* {} FETCH ({}FLAGS ({}){})\r\n", idx + 1, uid_item, flags_text(m), modseq_item(m)));
    else if (enabled_.condstore && new_modseq)  // RFC 7162 3.2: .SILENT still tells the new MODSEQ
      io_.put(fmt::format("* {} FETCH ({}MODSEQ ({}))\r\n", idx + 1, uid_item, m.modseq));
  }
  std::sort(modified.begin(), modified.end());
  std::string code = modified.empty() ? "" : "[MODIFIED " + uid_set_text(modified) + "] ";
  if (uid) update(true);
  context_updates();  // CONTEXT=SEARCH (context.cpp)
  ok(tag, code + (uid ? "UID STORE completed" : "STORE completed"));
}

// -- EXPUNGE -----------------------------------------------------------------

void Session::cmd_expunge(Cmd& c) {
  if (!c.uid) {
    if (!c.p.eol()) return bad(c.tag, "Unexpected arguments");
    return expunge(c.tag, nullptr);
  }
  auto set = c.p.sp() ? parse_seqset(c.p.word()) : std::nullopt;
  if (!set || !c.p.eol()) return bad(c.tag, "Bad UID set");
  expunge(c.tag, &*set);
}

void Session::expunge(const std::string& tag, const SeqSet* uid_set) {
  if (!has_right(sel_->rights, 'e')) return no(tag, "[NOPERM] Permission denied (e needed)");
  std::uint32_t max = sel_->msgs.empty() ? 0 : sel_->msgs.back().uid;
  SeqSet uids = uid_set ? normalize(*uid_set, max) : SeqSet{};
  if (!remove_deleted(uid_set ? &uids : nullptr)) return no(tag, "[SERVERBUG] Cannot expunge");
  update(true);
  ok(tag, uid_set ? "UID EXPUNGE completed" : "EXPUNGE completed");
}

bool Session::remove_deleted(const SeqSet* uids) {
  // \Deleted as the folder has it now, not as this session last saw it:
  // another session may have set or cleared it since.
  std::vector<Entry> now;
  std::string err;
  if (!sel_->folder->sync(now, false, err)) {
    log::line("{}: {}", who_, err);
    return false;
  }
  std::vector<std::uint32_t> doomed;
  for (auto& e : now)
    if ((flags_of(e.name).sys & f_deleted) && (!uids || in_set(*uids, e.uid))) doomed.push_back(e.uid);
  if (!doomed.empty() && !sel_->folder->expunge(doomed, err)) {
    log::line("{}: {}", who_, err);
    return false;
  }
  if (!doomed.empty()) quota_freed();
  return true;
}

// -- COPY, MOVE ---------------------------------------------------------------

void Session::cmd_copy(Cmd& c) {
  const std::string& tag = c.tag;
  Parser& p = c.p;
  bool uid = c.uid, move = c.verb == "MOVE";
  auto which = resolve(p.word(), uid);
  if (!which) return bad(tag, "Invalid message set");
  if (!p.sp()) return bad(tag, "Missing mailbox");
  auto name = p.astring();
  if (!name || !p.eol()) return bad(tag, "Bad mailbox name");
  std::string n = canonical(mailbox_in(*name));
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (!valid_name(n) || ::stat((dir + "/cur").c_str(), &st) != 0) return no(tag, "[TRYCREATE] No such mailbox");
  if (!allowed(tag, n, "i")) return;
  if (move && !(has_right(sel_->rights, 'e') && has_right(sel_->rights, 't')))
    return no(tag, "[NOPERM] Permission denied (t and e needed to move out)");
  // A COPY adds to the user's quota; a MOVE stays within it, but still
  // adds to the target folder's own root, if it has one.
  maildir_quota::Usage adding;
  for (auto idx : *which)
    if (!sel_->msgs[idx].gone) {
      adding.bytes += static_cast<std::int64_t>(maildir_quota::message_size(sel_->folder->dir() + "/cur", sel_->msgs[idx].name));
      ++adding.messages;
    }
  if (!quota_allows(tag, n, static_cast<std::uint64_t>(adding.bytes), static_cast<std::uint64_t>(adding.messages),
                    !move))
    return;
  Folder target(dir);
  std::vector<std::pair<std::uint32_t, std::string>> copied;  // source UID, new base name
  for (auto idx : *which) {
    Msg& m = sel_->msgs[idx];
    if (m.gone) continue;
    Flags f = m.flags;
    if (f.kw) {
      std::vector<std::string> names;
      for (std::size_t i = 0; i < 26 && i < sel_->keywords.size(); ++i)
        if (f.kw & (1u << i)) names.push_back(sel_->keywords[i]);
      bool good;
      f.kw = keyword_bits(names, target, true, good);
    }
    std::string base = maildir::unique_name() + fmt::format(",S={},W={}", name_size(base_of(m.name), 'S').value_or(0), m.vsize);
    std::string to = dir + "/cur/" + name_with(base, f);
    bool done = false;
    for (int attempt = 0; attempt < 2 && !done; ++attempt) {
      if (::link(path_of(m).c_str(), to.c_str()) == 0) {
        done = true;
      } else if (errno == ENOENT && attempt == 0) {
        refresh_names();
      } else if (errno == EXDEV || errno == EPERM || errno == EMLINK) {
        Fd from(::open(path_of(m).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
        maildir::Writer w(dir + "/");
        if (from.ok() && w.open() && w.copy_from(from.get()) && w.commit(name_with("", f).substr(1))) {
          auto file = w.path().substr(w.path().rfind('/') + 1);
          base = std::string(base_of(file));
          done = true;
        }
        break;
      } else {
        break;
      }
    }
    if (!done) {
      log::line("{}: COPY of UID {} failed: {}", who_, m.uid, std::strerror(errno));
      return no(tag, "[SERVERBUG] Copy failed; some messages may have been copied");
    }
    copied.emplace_back(m.uid, base);
  }
  fsync_dir(dir + "/cur");
  maildir_quota::record(root_, adding.bytes, adding.messages);
  std::vector<Entry> entries;
  std::string err;
  std::vector<std::uint32_t> src, dst;
  // The copies' UIDs from the target's own sync, even when it is the
  // selected folder: this session's view learns of them afterwards, so a
  // MOVE within one folder answers COPYUID, EXPUNGE, then EXISTS.
  if (!target.sync(entries, false, err)) log::line("{}: {}", who_, err);
  for (auto& [u, base] : copied) {
    for (auto& e : entries)
      if (base_of(e.name) == base) src.push_back(u), dst.push_back(e.uid);
  }
  std::string code;
  std::uint32_t validity = target.uidvalidity();
  if (!src.empty() && src.size() == copied.size())
    code = fmt::format("[COPYUID {} {} {}] ", validity, uid_set_text(src), uid_set_text(dst));
  if (move) {
    if (!code.empty()) io_.put("* OK " + code + "Moved\r\n");
    std::vector<std::uint32_t> moved;
    for (auto& [u, base] : copied) moved.push_back(u);
    if (!sel_->folder->expunge(moved, err)) {
      log::line("{}: {}", who_, err);
      update(true);
      return no(tag, "[SERVERBUG] Copied but not removed from the source");
    }
    update(true);
    return ok(tag, "MOVE completed");
  }
  if (sel_->name == n) update(false);
  ok(tag, code + (uid ? "UID COPY completed" : "COPY completed"));
}

}  // namespace imapd
