// imap_store: Maildir file names and flags, and a folder's UIDs, MODSEQs
// and flag changes. See imap_store.hpp.
#include "imap/imap_store.hpp"

#include "imap/imap_dotlock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "imap/imap_message.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/maildir_list.hpp"
#include "mail/maildir_quota.hpp"
#include "base/unique.hpp"

namespace postern::imap {

namespace {

const char* const uidlist_name = "dovecot-uidlist";
const char* const keywords_name = "dovecot-keywords";

}  // namespace

std::string_view base_of(std::string_view name) {
  auto c = name.find(':');
  return c == std::string_view::npos ? name : name.substr(0, c);
}

Flags flags_of(std::string_view name) {
  Flags f;
  auto c = name.find(":2,");
  if (c == std::string_view::npos) return f;
  for (char ch : name.substr(c + 3)) {
    switch (ch) {
      case 'S': f.sys |= f_seen; break;
      case 'R': f.sys |= f_answered; break;
      case 'F': f.sys |= f_flagged; break;
      case 'T': f.sys |= f_deleted; break;
      case 'D': f.sys |= f_draft; break;
      default:
        if (ch >= 'a' && ch <= 'z') f.kw |= 1u << (ch - 'a');
        else if (ch >= 'A' && ch <= 'Z' && f.other.find(ch) == std::string::npos) f.other += ch;
    }
  }
  return f;
}

std::string name_with(std::string_view base, const Flags& f) {
  std::string letters = f.other;
  if (f.sys & f_draft) letters += 'D';
  if (f.sys & f_flagged) letters += 'F';
  if (f.sys & f_answered) letters += 'R';
  if (f.sys & f_seen) letters += 'S';
  if (f.sys & f_deleted) letters += 'T';
  std::sort(letters.begin(), letters.end());
  for (int i = 0; i < 26; ++i)
    if (f.kw & (1u << i)) letters += static_cast<char>('a' + i);
  return std::string(base) + ":2," + letters;
}


std::uint8_t system_flag(std::string_view name) {
  static const std::pair<std::string_view, std::uint8_t> table[] = {
      {"\\SEEN", f_seen}, {"\\ANSWERED", f_answered}, {"\\FLAGGED", f_flagged},
      {"\\DELETED", f_deleted}, {"\\DRAFT", f_draft}};
  for (auto& [n, bit] : table)
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) { return a == std::toupper(static_cast<unsigned char>(b)); }))
      return bit;
  return 0;
}

// -- changes under the lock ------------------------------------------------

namespace {

Flags changed(const Flags& now, FlagChange how, const Flags& f) {
  Flags want = now;
  switch (how) {
    case FlagChange::add: want.sys |= f.sys, want.kw |= f.kw; break;
    case FlagChange::remove: want.sys &= static_cast<std::uint8_t>(~f.sys), want.kw &= ~f.kw; break;
    case FlagChange::replace: want.sys = f.sys, want.kw = f.kw; break;
  }
  return want;
}

}  // namespace

bool Folder::change_flags(const std::vector<std::uint32_t>& uids, FlagChange how, const Flags& f,
                          std::uint64_t unchanged_since, std::vector<FlagResult>& out, std::string& err) {
  out.clear();
  Dotlock lock(dir_ + "/" + uidlist_name);
  if (!lock.ok()) {
    err = "cannot lock " + dir_ + "/" + uidlist_name + ": " + std::strerror(errno);
    return false;
  }
  if (!refresh_if_changed(err)) return false;
  std::string lines;
  auto find = [&](std::uint32_t uid) {
    auto it = std::lower_bound(cur_.begin(), cur_.end(), uid, [](const Entry& e, std::uint32_t u) { return e.uid < u; });
    return it != cur_.end() && it->uid == uid ? &*it : nullptr;
  };
  for (auto uid : uids) {
    FlagResult r;
    r.uid = uid;
    Entry* e = find(uid);
    for (int attempt = 0; e && attempt < 2; ++attempt) {
      r.name = e->name;
      r.flags = flags_of(e->name);
      r.modseq = e->modseq;
      if (unchanged_since && e->modseq > unchanged_since) {
        r.skipped = true;
        break;
      }
      Flags want = changed(r.flags, how, f);
      if (want == r.flags) break;
      std::string to = name_with(base_of(e->name), want);
      std::string cur = dir_ + "/cur/";
      if (::rename((cur + e->name).c_str(), (cur + to).c_str()) == 0) {
        auto& m = st_.msgs[uid];
        m.flags = canonical_info(to);
        m.modseq = ++st_.highest;
        m.vsize = e->vsize;
        lines += state_msg_line(uid, m);
        e->name = r.name = to;
        e->modseq = r.modseq = m.modseq;
        r.flags = want;
        break;
      }
      if (errno != ENOENT || attempt) {
        err = "cannot rename " + cur + e->name + ": " + std::strerror(errno);
        save_state(lines, false, err);
        return false;
      }
      // Renamed or removed by a writer that does not lock (mutt, a
      // script): look again, with what we changed so far written first.
      if (!save_state(lines, false, err) || !refresh(false, err)) return false;
      lines.clear();
      e = find(uid);
    }
    r.gone = !e;
    out.push_back(std::move(r));
  }
  if (!save_state(lines, false, err)) return false;
  take_stamps();
  return true;
}

bool Folder::expunge(const std::vector<std::uint32_t>& uids, std::string& err) {
  Dotlock lock(dir_ + "/" + uidlist_name);
  if (!lock.ok()) {
    err = "cannot lock " + dir_ + "/" + uidlist_name + ": " + std::strerror(errno);
    return false;
  }
  if (!refresh_if_changed(err)) return false;
  std::vector<std::uint32_t> want(uids);
  std::sort(want.begin(), want.end());
  maildir_quota::Usage freed;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string lines;
    std::vector<Entry> keep;
    std::vector<std::uint32_t> moved;  // not under the name we knew
    keep.reserve(cur_.size());
    for (auto& e : cur_) {
      if (!std::binary_search(want.begin(), want.end(), e.uid)) {
        keep.push_back(std::move(e));
        continue;
      }
      std::uint64_t size = maildir_quota::message_size(dir_ + "/cur", e.name);
      if (::unlink((dir_ + "/cur/" + e.name).c_str()) != 0) {
        if (errno == ENOENT && attempt == 0) moved.push_back(e.uid);
        keep.push_back(std::move(e));
        continue;
      }
      freed.bytes += static_cast<std::int64_t>(size);
      ++freed.messages;
      st_.msgs.erase(e.uid);
      st_.expunged.emplace_back(e.uid, ++st_.highest);
      lines += state_expunge_line(e.uid, st_.highest);
    }
    cur_ = std::move(keep);
    if (!lines.empty()) fsync_dir(dir_ + "/cur");
    // Maildir++: whoever removes a message takes it off maildirsize.
    maildir_quota::record(maildir_quota::root_of(dir_), -freed.bytes, -freed.messages);
    freed = {};
    if (!save_state(lines, false, err)) return false;
    if (moved.empty()) break;
    // Renamed by a writer that does not lock (mutt, Dovecot's flag change,
    // a script) rather than removed: look again and remove it by its new
    // name; one that is really gone the look records as expunged.
    if (!refresh(false, err)) return false;
    want = std::move(moved);
  }
  take_stamps();
  return true;
}

std::optional<std::vector<std::uint32_t>> Folder::vanished_since(std::uint64_t modseq) {
  std::vector<std::uint32_t> out;
  Dotlock lock(dir_ + "/" + uidlist_name);
  std::string err;
  if (lock.ok() && !refresh_if_changed(err)) log::line("{}: {}", dir_, err);
  // Above highest: the client saw changes this state no longer has (a
  // truncated postern-state), so neither has it all their expunges.
  if (modseq < st_.history_from || modseq > st_.highest) return std::nullopt;
  for (auto& [uid, m] : st_.expunged)
    if (m > modseq) out.push_back(uid);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::string> read_folder_file(const std::string& path, std::size_t max) {
  auto text = read_regular_file(path, max);
  if (!text && (errno == ELOOP || errno == EINVAL)) {
    log::line("{}: not a regular file; ignored", path);
    errno = ENOENT;
  }
  return text;
}

// -- keywords -------------------------------------------------------------------

std::vector<std::string> Folder::keywords() {
  auto text = read_folder_file(dir_ + "/" + keywords_name, 65536);
  return text ? parse_keywords(*text) : std::vector<std::string>{};
}

int Folder::keyword_locked(const std::string& name, bool create) {
  auto find = [&](const std::vector<std::string>& kws) {
    for (std::size_t i = 0; i < kws.size(); ++i)
      if (iequal(kws[i], name)) return static_cast<int>(i);
    return -1;
  };
  auto kws = keywords();
  int i = find(kws);
  if (i >= 0 || !create || !valid_keyword(name)) return i;
  std::size_t slot = 0;
  while (slot < kws.size() && !kws[slot].empty()) ++slot;
  if (slot >= 26) return -1;
  if (slot == kws.size()) kws.emplace_back();
  kws[slot] = name;
  // Dovecot replaces the file under dovecot-keywords.lock (and the
  // uidlist's lock, which the caller holds).
  Dotlock kwlock(dir_ + "/" + keywords_name, 30, 32);
  if (!kwlock.ok() || !write_file_atomic(dir_ + "/" + keywords_name, format_keywords(kws), 0600, true)) return -1;
  return static_cast<int>(slot);
}

int Folder::keyword(const std::string& name, bool create) {
  int i = keyword_locked(name, false);
  if (i >= 0 || !create) return i;
  Dotlock lock(dir_ + "/" + uidlist_name);
  if (!lock.ok()) return -1;
  return keyword_locked(name, true);
}

void Folder::import_courier_keywords(std::vector<std::string>& files) {
  auto text = read_folder_file(dir_ + "/courierimapkeywords/:list", 4 << 20);
  if (!text) return;
  CourierKeywords ck = parse_courier_keywords(*text);
  std::unordered_map<std::string_view, std::size_t> by_base;
  for (std::size_t i = 0; i < files.size(); ++i) by_base.emplace(base_of(files[i]), i);
  std::vector<int> letter(ck.names.size(), -2);  // -2: not looked up yet
  for (auto& [base, idx] : ck.msgs) {
    auto it = by_base.find(base);
    if (it == by_base.end()) continue;
    std::string& name = files[it->second];
    Flags f = flags_of(name);
    for (auto k : idx) {
      if (letter[k] == -2) letter[k] = ck.names[k].empty() ? -1 : keyword_locked(ck.names[k], true);
      if (letter[k] >= 0) f.kw |= 1u << letter[k];
    }
    std::string to = name_with(base_of(name), f);
    if (to != name && ::rename((dir_ + "/cur/" + name).c_str(), (dir_ + "/cur/" + to).c_str()) == 0) {
      by_base.erase(it);
      name = to;
      by_base.emplace(base_of(name), &name - files.data());
    }
  }
}

}  // namespace postern::imap
