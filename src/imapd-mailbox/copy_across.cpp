// copy_across: COPY and MOVE between folders of two owners (imapd(8),
// "Shared folders"). No one process may read both users' files, so the
// messages cross as IMAP: from another user's folder they are fetched
// through that owner's process (which checks r) and stored here, in the
// user's own folder; into another user's folder they are sent as one
// APPEND to that owner's process (which checks i). A MOVE then removes the
// originals the same way (t and e on a shared source). Answers COPYUID
// when the target told the new UIDs. Trusts the owners' processes for
// their FETCH responses no more than any server's: sizes bounded, only
// UID, FLAGS, INTERNALDATE and the BODY[] literal are read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_shares.hpp"
#include "mail/maildir.hpp"
#include "mail/maildir_quota.hpp"
#include "proxy.hpp"
#include "relay_text.hpp"
#include "session.hpp"

namespace imapd {

namespace {

// The messages of one COPY across owners are held in memory on their way
// (and one APPEND into another user's folder is sent whole): past this,
// NO [LIMIT], and nothing is copied.
constexpr std::uint64_t max_across = 256u << 20;

std::string append_one(const std::vector<std::string>& flags, std::optional<std::time_t> when, const std::string& data) {
  std::string out = " (";
  for (std::size_t i = 0; i < flags.size(); ++i) out += (i ? " " : "") + flags[i];
  out += ")";
  if (when) out += " \"" + format_date_time(*when) + "\"";
  return out + fmt::format(" {{{}+}}\r\n", data.size()) + data;
}

}  // namespace

void Session::copy_across(const std::string& tag, const std::string& raw, bool uid, bool move) {
  Parser p(raw);
  p.atom();
  p.sp();
  if (uid) p.atom(), p.sp();
  p.atom();
  std::string set = p.sp() ? std::string(p.word()) : "";
  auto target = p.sp() ? p.astring() : std::nullopt;
  if (set.empty() || !target || !p.eol()) return bad(tag, "Bad arguments");
  const char* verb = move ? "MOVE" : "COPY";

  // What to copy, and from where.
  std::vector<Fetched> msgs;
  std::uint64_t held = 0;
  bool too_big = false;
  if (proxy_ && proxy_->selected) {
    std::string fetch = std::string("p2 ") + (uid ? "UID " : "") + "FETCH " + set + " (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n";
    if (!proxy_->send(fetch)) return no(tag, "[UNAVAILABLE] Another user's folders could not be reached");
    std::string r;
    for (;;) {
      if (!proxy_->response(r, 600)) return no(tag, "[UNAVAILABLE] Another user's folders could not be reached");
      if (r.starts_with("p2 ")) break;
      auto f = r.starts_with("* ") ? parse_fetched(r) : std::nullopt;
      if (f && (held += f->data.size()) > max_across) too_big = true;
      if (f && !too_big) msgs.push_back(std::move(*f));
      else if (!f) io_.put(r);  // EXPUNGE, EXISTS, a flag change: the client's to know
    }
    if (!r.starts_with("p2 OK")) return no(tag, r.substr(r.find(' ', 3) + 1, r.size() - r.find(' ', 3) - 3));
  } else if (sel_) {
    auto which = resolve(set, uid);
    if (!which) return bad(tag, "Invalid message set");
    for (auto idx : *which) {
      Msg m = sel_->msgs[idx];
      if (m.gone) continue;
      auto data = read_file(path_of(m), limits_.max_literal + 1);
      if (!data) continue;  // removed meanwhile
      if ((held += data->size()) > max_across) {
        too_big = true;
        break;
      }
      m.recent = false;
      Fetched f{m.uid, {}, internal_date(m), std::move(*data)};
      std::string flags = flags_text(m);
      for (std::size_t i = 0; i < flags.size();) {
        auto sp = flags.find(' ', i);
        f.flags.push_back(flags.substr(i, sp == std::string::npos ? std::string::npos : sp - i));
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
      msgs.push_back(std::move(f));
    }
  } else {
    return bad(tag, "No mailbox selected");
  }
  if (too_big) return no(tag, fmt::format("[LIMIT] At most {} MB are copied across owners at once", max_across >> 20));
  if (msgs.empty()) return ok(tag, std::string(verb) + " completed");
  std::vector<std::uint32_t> src;
  for (auto& m : msgs) src.push_back(m.uid);

  // Where to: another owner's folder, or one of our own.
  std::string code;
  if (auto t = split_shared(*target)) {
    std::string command = "p3 APPEND " + astring_out(*target);
    for (auto& m : msgs) command += append_one(m.flags, m.when, m.data);
    std::string line = to_owner(t->owner, "p3", command, false);
    if (line.empty()) return no(tag, "[UNAVAILABLE] Another user's folders could not be reached");
    if (!line.starts_with("p3 OK")) return no(tag, line.substr(line.find(' ', 3) + 1));
    if (auto a = appenduid(line)) code = "[COPYUID " + a->first + " " + uid_set_text(src) + " " + a->second + "] ";
  } else {
    std::string n = canonical(mailbox_in(*target));
    std::string dir = folder_dir(root_, n);
    struct stat st {};
    if (!valid_name(n) || ::stat((dir + "/cur").c_str(), &st) != 0) return no(tag, "[TRYCREATE] No such mailbox");
    std::uint64_t bytes = 0;
    for (auto& m : msgs) bytes += m.data.size();
    if (!quota_allows(tag, n, bytes, msgs.size())) return;
    Folder folder(dir);
    std::vector<std::string> bases;
    std::int64_t stored = 0;
    for (auto& m : msgs) {
      Flags f;
      std::vector<std::string> kws;
      for (auto& x : m.flags) {
        if (std::uint8_t bit = system_flag(x)) f.sys |= bit;
        else if (!x.empty() && x[0] != '\\') kws.push_back(x);
      }
      bool good = true;
      f.kw = keyword_bits(kws, folder, true, good);
      maildir::Writer w(dir + "/");
      if (!w.open() || !w.write(m.data) || !w.commit(name_with("", f).substr(1))) {
        log::line("{}: {} from another user's folder failed: {}", who_, verb, w.error());
        return no(tag, "[SERVERBUG] Copy failed; some messages may have been copied");
      }
      if (m.when) {
        struct timespec ts[2] = {{*m.when, 0}, {*m.when, 0}};
        ::utimensat(AT_FDCWD, w.path().c_str(), ts, 0);
      }
      stored += static_cast<std::int64_t>(w.size());
      bases.emplace_back(base_of(w.path().substr(w.path().rfind('/') + 1)));
    }
    maildir_quota::record(root_, stored, static_cast<std::int64_t>(msgs.size()));
    std::vector<Entry> entries;
    std::string err;
    std::vector<std::uint32_t> dst;
    if (folder.sync(entries, false, err))
      for (auto& b : bases)
        for (auto& e : entries)
          if (base_of(e.name) == b) dst.push_back(e.uid);
    if (dst.size() == src.size())
      code = fmt::format("[COPYUID {} {} {}] ", folder.uidvalidity(), uid_set_text(src), uid_set_text(dst));
  }

  if (move) {
    std::string uids = uid_set_text(src);
    if (proxy_ && proxy_->selected) {
      std::string a = relay(*proxy_, "p4 UID STORE " + uids + " +FLAGS.SILENT (\\Deleted)", "p4", false);
      std::string b = a.starts_with("p4 OK") ? relay(*proxy_, "p5 UID EXPUNGE " + uids, "p5", false) : "";
      if (!b.starts_with("p5 OK")) return no(tag, "[NOPERM] Copied, but not removed from the source (t and e needed)");
    } else {
      std::string err;
      if (!sel_->folder->expunge(src, err)) {
        log::line("{}: {}", who_, err);
        update(true);
        return no(tag, "[SERVERBUG] Copied but not removed from the source");
      }
      quota_freed();
      update(true);
    }
  }
  ok(tag, code + (uid ? "UID " : "") + verb + " completed");
}

}  // namespace imapd
