// imap_folder: bringing a folder's state up to date (Folder::sync and the
// refresh every change starts with): dovecot-uidlist read, converted from
// postern-uidlist or Courier's courierimapuiddb when it is missing, new
// messages given UIDs (appended to the file, as Dovecot does; rewritten
// whole only when a quarter of it is stale or it needs a new header), and
// postern-state brought up to date with a MODSEQ for every message whose
// flags changed since (whoever changed them). See imap_store.hpp.
//
// Runs as the mailbox's owner with the folder's dot-lock held; every file
// read here may have been written by someone else and is parsed as such.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include <fmt/format.h>

#include "imap/imap_dotlock.hpp"
#include "imap/imap_store.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/unique.hpp"
#include "mail/maildir_list.hpp"

namespace postern::imap {

namespace {

constexpr std::size_t max_file = 256u << 20;

std::uint64_t leading(std::string_view s) {
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || n > (1ULL << 40)) break;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

bool append_durably(const std::string& path, std::string_view text) {
  // O_NONBLOCK: a FIFO planted since the read must not block the open.
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat st {};
  if (fd.ok() && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) {
    errno = EINVAL;
    return false;
  }
  return fd.ok() && write_all(fd.get(), text) && ::fdatasync(fd.get()) == 0;
}

std::size_t count_lines(std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

std::string canonical_info(std::string_view name) { return name_with("", flags_of(name)).substr(3); }

Folder::Folder(std::string dir) : dir_(std::move(dir)), root_(dir_) {
  // A Maildir++ folder ".Name" keeps dovecot-uidvalidity in its parent.
  auto slash = dir_.rfind('/');
  if (slash != std::string::npos && slash + 1 < dir_.size() && dir_[slash + 1] == '.') {
    std::string parent = slash == 0 ? "/" : dir_.substr(0, slash);
    struct stat st {};
    if (::stat((parent + "/cur").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) root_ = parent;
  }
}

std::optional<std::uint64_t> file_vsize(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.ok()) return std::nullopt;
  std::uint64_t n = 0;
  char buf[65536];
  char prev = 0;
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::nullopt;
    if (r == 0) break;
    for (ssize_t i = 0; i < r; ++i) {
      if (buf[i] == '\n' && prev != '\r') ++n;
      prev = buf[i];
    }
    n += static_cast<std::uint64_t>(r);
  }
  return n;
}

bool Folder::load_uidlist(bool& rewrite, bool& existed, std::uint32_t& import_recent, std::string& err) {
  rewrite = existed = false;
  import_recent = 0;
  std::string path = dir_ + "/" + "dovecot-uidlist";
  std::optional<Uidlist> u;
  if (auto text = read_regular_file(path, max_file)) {
    u = parse_uidlist(*text);
    if (!u) log::line("{}: unreadable dovecot-uidlist; starting a new UIDVALIDITY", dir_);
    else existed = true, rewrite = u->torn || u->version != 3 || u->guid.empty();
  } else if (errno == ELOOP || errno == EINVAL) {
    // A FIFO or symlink is not a missing file: a new UIDVALIDITY renamed
    // over it would invalidate every client's UIDs, so the sync fails and
    // the file stays as it is (the other state files count as missing).
    err = path + ": not a regular file; remove or replace it";
    return false;
  } else if (errno != ENOENT) {
    err = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  } else if (auto old = read_folder_file(dir_ + "/postern-uidlist", max_file)) {
    // postern before Dovecot's files: the same syntax, R = first unclaimed.
    u = parse_uidlist(*old);
    if (u) {
      for (std::size_t i = 0; i < u->hdr_ext.size();) {
        std::size_t sp = u->hdr_ext.find(' ', i);
        std::string_view tok = std::string_view(u->hdr_ext).substr(i, sp == std::string::npos ? sp : sp - i);
        if (tok.size() > 1 && tok[0] == 'R') import_recent = static_cast<std::uint32_t>(leading(tok.substr(1)));
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
      u->hdr_ext.clear();
      log::line("{}: postern-uidlist converted to dovecot-uidlist (UIDVALIDITY {})", dir_, u->validity);
    }
  } else if (auto courier = read_folder_file(dir_ + "/courierimapuiddb", max_file)) {
    u = parse_uidlist(*courier);
    if (u) {
      u->hdr_ext.clear();
      courier_ = true;
      log::line("{}: courierimapuiddb read into dovecot-uidlist (UIDVALIDITY {})", dir_, u->validity);
    }
  }
  if (!existed) rewrite = true;
  if (!u) {
    u = Uidlist{};
    u->validity = uidvalidity_next(root_);
    u->next = 1;
  }
  if (u->guid.empty()) u->guid = random_hex(16), rewrite = true;
  list_ = std::move(*u);
  return true;
}

bool Folder::save_state(const std::string& appended, bool whole, std::string& err) {
  std::string path = dir_ + "/postern-state";
  if (st_.expunged.size() > history_limit_) {
    // The oldest expunges go; a client that synced before the last of
    // them is answered from the UIDs that exist (vanished_since).
    std::stable_sort(st_.expunged.begin(), st_.expunged.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    std::size_t cut = st_.expunged.size() - history_limit_ / 2;
    st_.history_from = std::max(st_.history_from, st_.expunged[cut - 1].second);
    st_.expunged.erase(st_.expunged.begin(), st_.expunged.begin() + static_cast<std::ptrdiff_t>(cut));
    whole = true;
  }
  std::size_t total = st_.msgs.size() + st_.expunged.size() + 2;
  if (!whole && st_.lines + count_lines(appended) > 2 * total + 1000) whole = true;
  if (whole) {
    if (!write_file_atomic(path, format_state(st_), 0600, true)) {
      err = "cannot write " + path + ": " + std::strerror(errno);
      return false;
    }
    st_.lines = total;
    return true;
  }
  if (appended.empty()) return true;
  if (!append_durably(path, appended)) {
    err = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  st_.lines += count_lines(appended);
  return true;
}

bool Folder::refresh(bool claim, std::string& err) {
  bool rewrite = false, existed = false;
  std::uint32_t import_recent = 0;
  courier_ = false;
  if (!load_uidlist(rewrite, existed, import_recent, err)) return false;
  std::uint32_t first_new = list_.next;
  if (maildir::move_new_to_cur(dir_) < 0) {
    err = "cannot read " + dir_ + "/new: " + std::strerror(errno);
    return false;
  }
  std::vector<std::string> files;
  if (!maildir::visible_names(dir_ + "/cur", files)) {
    err = "cannot read " + dir_ + "/cur: " + std::strerror(errno);
    return false;
  }
  if (courier_) import_courier_keywords(files);
  std::unordered_map<std::string_view, std::size_t> by_base;
  by_base.reserve(files.size() * 2);
  for (std::size_t i = 0; i < files.size(); ++i)
    if (files[i].find_first_of("\r\n") == std::string::npos) by_base.emplace(base_of(files[i]), i);
  std::vector<UidRecord> live;
  std::vector<Entry> entries;
  live.reserve(files.size());
  entries.reserve(files.size());
  std::size_t stale = 0;
  for (auto& r : list_.recs) {
    auto it = by_base.find(r.base);
    if (it == by_base.end()) {
      ++stale;
      continue;
    }
    entries.push_back(Entry{r.uid, files[it->second], record_number(r, 'W').value_or(0), 0});
    by_base.erase(it);
    live.push_back(std::move(r));
  }
  std::string appended;
  if (!by_base.empty()) {
    std::vector<std::size_t> fresh;
    for (auto& [b, i] : by_base) fresh.push_back(i);
    std::sort(fresh.begin(), fresh.end(), [&](std::size_t a, std::size_t b) {
      auto na = leading(files[a]), nb = leading(files[b]);
      return na != nb ? na < nb : files[a] < files[b];
    });
    for (auto i : fresh) {
      auto w = name_size(base_of(files[i]), 'W');
      auto v = w ? w : file_vsize(dir_ + "/cur/" + files[i]);
      if (!v || list_.next >= 0xffffffffu) continue;  // gone again
      UidRecord r{list_.next++, {fmt::format("W{}", *v)}, std::string(base_of(files[i]))};
      appended += uidlist_record(r);
      entries.push_back(Entry{r.uid, files[i], *v, 0});
      live.push_back(std::move(r));
    }
  }
  list_.recs = std::move(live);
  if (stale && stale * 4 >= list_.recs.size() + stale) rewrite = true;
  std::string path = dir_ + "/dovecot-uidlist";
  if (rewrite) {
    std::string text = uidlist_header(list_);
    text.reserve(list_.recs.size() * 64 + text.size());
    for (auto& r : list_.recs) text += uidlist_record(r);
    if (!write_file_atomic(path, text, 0600, true)) {
      err = "cannot write " + path + ": " + std::strerror(errno);
      return false;
    }
    ::unlink((dir_ + "/postern-uidlist").c_str());
    ::unlink((dir_ + "/postern-uidlist.lock").c_str());
  } else if (!appended.empty() && !append_durably(path, appended)) {
    err = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }

  // postern-state: a MODSEQ for whatever changed since it was last written.
  std::string spath = dir_ + "/postern-state";
  auto stext = read_folder_file(spath, max_file);
  if (!stext && errno != ENOENT) {
    err = "cannot read " + spath + ": " + std::strerror(errno);
    return false;
  }
  std::optional<ModState> s = stext ? parse_state(*stext) : std::nullopt;
  bool whole = false;
  if (!s || s->validity != list_.validity) {
    if (stext) log::line("{}: postern-state unreadable or of another UIDVALIDITY; starting it again", dir_);
    ModState f;
    f.validity = list_.validity;
    // Clients may hold MODSEQs of this UIDVALIDITY from a state now lost,
    // or from Dovecot, which served the folder before: start above any
    // count of changes since 1970 so that none goes backwards.
    f.highest = existed ? static_cast<std::uint64_t>(std::time(nullptr)) << 16 : 1;
    f.recent_from = import_recent ? import_recent : existed ? first_new : 1;
    // Which messages went away before now is not known.
    f.history_from = existed ? f.highest : 0;
    for (auto& e : entries)
      if (e.uid < first_new) f.msgs[e.uid] = MsgState{f.highest, e.vsize, canonical_info(e.name)};
    s = std::move(f);
    whole = true;
  } else if (s->good_bytes != stext->size()) {
    whole = true;  // a torn last line: write it whole again
  }
  st_ = std::move(*s);
  std::string lines;
  auto gone = st_.msgs.begin();
  for (auto& e : entries) {
    for (; gone != st_.msgs.end() && gone->first < e.uid; gone = st_.msgs.erase(gone)) {
      st_.expunged.emplace_back(gone->first, ++st_.highest);
      lines += state_expunge_line(gone->first, st_.highest);
    }
    std::string info = canonical_info(e.name);
    auto it = gone != st_.msgs.end() && gone->first == e.uid ? gone : st_.msgs.end();
    if (e.vsize == 0) {
      auto w = name_size(base_of(e.name), 'W');
      auto v = w ? w : it != st_.msgs.end() && it->second.vsize ? std::optional(it->second.vsize)
                                                                 : file_vsize(dir_ + "/cur/" + e.name);
      e.vsize = v.value_or(0);
    }
    if (it == st_.msgs.end()) {
      it = st_.msgs.emplace(e.uid, MsgState{++st_.highest, e.vsize, info}).first;
      lines += state_msg_line(e.uid, it->second);
    } else if (it->second.flags != info) {
      it->second.flags = info;
      it->second.modseq = ++st_.highest;
      lines += state_msg_line(e.uid, it->second);
    }
    e.modseq = it->second.modseq;
    gone = std::next(it);
  }
  for (; gone != st_.msgs.end(); gone = st_.msgs.erase(gone)) {
    st_.expunged.emplace_back(gone->first, ++st_.highest);
    lines += state_expunge_line(gone->first, st_.highest);
  }
  recent_from_ = st_.recent_from;
  if (claim && st_.recent_from < list_.next) {
    st_.recent_from = list_.next;
    lines += state_recent_line(list_.next);
  }
  if (!save_state(lines, whole, err)) return false;
  cur_ = std::move(entries);
  take_stamps();
  return true;
}

namespace {

const char* const stamped[4] = {"/dovecot-uidlist", "/postern-state", "/cur", "/new"};

}  // namespace

void Folder::take_stamps() {
  for (int i = 0; i < 4; ++i) {
    struct stat st {};
    stamps_[i] = Stamp{};
    if (::stat((dir_ + stamped[i]).c_str(), &st) == 0)
      stamps_[i] = Stamp{st.st_dev, st.st_ino, static_cast<long>(st.st_size),
                         st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  }
  loaded_ = true;
}

bool Folder::stamps_current() const {
  if (!loaded_) return false;
  for (int i = 0; i < 4; ++i) {
    struct stat st {};
    Stamp now;
    if (::stat((dir_ + stamped[i]).c_str(), &st) == 0)
      now = Stamp{st.st_dev, st.st_ino, static_cast<long>(st.st_size),
                  st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
    if (!(now == stamps_[i])) return false;
  }
  return true;
}

bool Folder::refresh_if_changed(std::string& err) { return stamps_current() || refresh(false, err); }

bool Folder::sync(std::vector<Entry>& out, bool claim_recent, std::string& err) {
  Dotlock lock(dir_ + "/dovecot-uidlist");
  if (!lock.ok()) {
    err = "cannot lock " + dir_ + "/dovecot-uidlist: " + std::strerror(errno);
    return false;
  }
  // A directory changed within the last two seconds may have changed
  // again within the same clock tick: only older stamps are trusted.
  bool settled = loaded_ && stamps_[2].mtime_ns / 1000000000 < std::time(nullptr) - 2 &&
                 stamps_[3].mtime_ns / 1000000000 < std::time(nullptr) - 2;
  if (settled && stamps_current()) {
    recent_from_ = st_.recent_from;
    if (claim_recent && st_.recent_from < list_.next) {
      st_.recent_from = list_.next;
      if (!save_state(state_recent_line(list_.next), false, err)) return false;
      take_stamps();
    }
  } else if (!refresh(claim_recent, err)) {
    return false;
  }
  out = cur_;
  return true;
}

}  // namespace postern::imap
