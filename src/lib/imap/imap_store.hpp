// imap_store: the Maildir++ tree imapd serves, laid out as Courier and
// Dovecot lay it out: INBOX is ~/Maildir itself, folder "A.B" is the
// Maildir ~/Maildir/.A.B (names in modified UTF-7, '.' the hierarchy
// separator), flags are the file name's info (":2,DFRST" and keyword
// letters a-z), keyword names are in the folder's dovecot-keywords file,
// subscriptions in ~/Maildir/subscriptions.
//
// A folder's UIDs are Dovecot's: dovecot-uidlist, written only under
// Dovecot's dot-lock dovecot-uidlist.lock (imap_dotlock), so postern and
// Dovecot can serve one Maildir by turns or at once; a new folder's
// UIDVALIDITY comes from dovecot-uidvalidity at the root. A postern-uidlist
// or Courier's courierimapuiddb is converted once, keeping its UIDs.
// postern's own state (\Recent claims, MODSEQs, expunge history) is in
// postern-state beside them (imap_modseq). Every change is made under the
// lock, to the message's current file name, so two sessions never undo
// each other's changes. See postern-maildir(5).
//
// Runs as the mailbox's owner; folder names come from the network and are
// checked by valid_name() before they become paths; the files in a folder
// are read as untrusted (imap_files).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/imap_files.hpp"
#include "imap/imap_modseq.hpp"
#include "mail/maildir_list.hpp"

namespace postern::imap {

enum : std::uint8_t { f_seen = 1, f_answered = 2, f_flagged = 4, f_deleted = 8, f_draft = 16 };

struct Flags {
  std::uint8_t sys = 0;
  std::uint32_t kw = 0;    // bit i: keyword i of the folder's dovecot-keywords
  std::string other;       // other info letters, kept as they were (P, ...)
  bool operator==(const Flags&) const = default;
};

// The bit of a system flag ("\\Seen", any case), 0 for any other name.
std::uint8_t system_flag(std::string_view name);

// The base name (before ':') and the flags of a Maildir file name.
std::string_view base_of(std::string_view name);
Flags flags_of(std::string_view name);
// base + ":2," + the flag letters in ASCII order.
std::string name_with(std::string_view base, const Flags& f);
using maildir::name_size;  // mail/maildir_list.hpp

struct Entry {
  std::uint32_t uid = 0;
  std::string name;          // the file name in cur/
  std::uint64_t vsize = 0;   // size with CRLF line ends
  std::uint64_t modseq = 0;  // RFC 7162: when its flags last changed
};

enum class FlagChange { add, remove, replace };

struct FlagResult {
  std::uint32_t uid = 0;
  bool gone = false;     // expunged (by anyone): nothing changed
  bool skipped = false;  // its MODSEQ was above unchanged_since
  std::string name;      // the file name now
  Flags flags;           // the flags now
  std::uint64_t modseq = 0;
};

class Folder {
 public:
  explicit Folder(std::string dir);
  const std::string& dir() const { return dir_; }
  // Moves new/ to cur/, gives new messages the next UIDs and MODSEQs,
  // notices flags changed and messages removed by others (new MODSEQs),
  // and returns the folder in UID order. With claim_recent the messages
  // nobody has claimed yet are this caller's \Recent ones: their UIDs are
  // >= recent_from(). False with err on failure.
  bool sync(std::vector<Entry>& out, bool claim_recent, std::string& err);
  std::uint32_t uidvalidity() const { return list_.validity; }
  std::uint32_t uidnext() const { return list_.next; }
  // After sync with claim: the first UID this session may call \Recent;
  // without: the first UID nobody has claimed yet.
  std::uint32_t recent_from() const { return recent_from_; }
  // >= 1, never decreases for one UIDVALIDITY.
  std::uint64_t highestmodseq() const { return st_.highest ? st_.highest : 1; }
  // The folder's GUID, 32 hex digits (MAILBOXID, RFC 8474).
  std::string guid() const { return list_.guid; }

  // Under the folder lock: brings the state up to date, then applies the
  // change to each message's current file name, renames, and gives each
  // message whose flags changed a new MODSEQ. unchanged_since (0 = none):
  // a message whose MODSEQ is above it is left alone and reported
  // skipped. One result per UID asked for, in the order asked.
  bool change_flags(const std::vector<std::uint32_t>& uids, FlagChange how, const Flags& f,
                    std::uint64_t unchanged_since, std::vector<FlagResult>& out, std::string& err);
  // Removes the messages' files under the lock and records their expunge
  // MODSEQs. UIDs already gone are ignored.
  bool expunge(const std::vector<std::uint32_t>& uids, std::string& err);
  // UIDs expunged with a MODSEQ above modseq, ascending (QRESYNC);
  // nullopt when the history cannot tell (it was lost or trimmed past
  // modseq, or modseq is above any this state knows): the caller then
  // names every UID that no longer exists (RFC 7162 3.2.5.2).
  std::optional<std::vector<std::uint32_t>> vanished_since(std::uint64_t modseq);
  // The expunges kept in postern-state: past it the oldest half is
  // dropped (postern-maildir(5)).
  void set_history_limit(std::size_t n) { history_limit_ = n; }

  // The folder's keywords (index = letter - 'a').
  std::vector<std::string> keywords();
  // The index of keyword, added to the file when create and missing; -1
  // when there is no room (26 keywords) or the file cannot be written.
  int keyword(const std::string& name, bool create);

 private:
  bool refresh(bool claim, std::string& err);  // with the lock held
  // A refresh when the files changed since this object last read or
  // wrote them (with the lock held): a STORE in a big folder costs a
  // rename and an append, not a reread of every file name.
  bool refresh_if_changed(std::string& err);
  struct Stamp {
    unsigned long dev = 0, ino = 0;
    long size = -1;
    long long mtime_ns = -1;
    bool operator==(const Stamp&) const = default;
  };
  void take_stamps();
  bool stamps_current() const;
  Stamp stamps_[4];  // dovecot-uidlist, postern-state, cur/, new/
  bool loaded_ = false;
  bool load_uidlist(bool& rewrite, bool& existed, std::uint32_t& import_recent, std::string& err);
  bool save_state(const std::string& appended, bool whole, std::string& err);
  void import_courier_keywords(std::vector<std::string>& files);
  std::string dir_, root_;
  Uidlist list_;
  ModState st_;
  std::vector<Entry> cur_;
  std::uint32_t recent_from_ = 1;
  std::size_t history_limit_ = 10000;
  bool courier_ = false;  // this refresh read courierimapuiddb
  int keyword_locked(const std::string& name, bool create);
};

// Reads one of a folder's own files (dovecot-uidlist, postern-state, ...).
// Anything but a regular file under that name (a FIFO, a device, a
// symlink) is logged and reported as missing (errno ENOENT), as a file
// Dovecot could not use: the session goes on and never blocks on it.
std::optional<std::string> read_folder_file(const std::string& path, std::size_t max);

// The size of a message file with every line end counted as CRLF (its
// RFC822.SIZE, the W= of its name); nothing when it cannot be read.
std::optional<std::uint64_t> file_vsize(const std::string& path);

// The flag letters of a file name in the order name_with writes them.
std::string canonical_info(std::string_view name);

// True when name (wire form) may be a folder: valid modified UTF-7,
// 1..200 bytes, no '/', no empty or "."-leading hierarchy level, no
// control bytes. INBOX is always valid.
bool valid_name(std::string_view name);
bool is_inbox(std::string_view name);
// The directory of folder name under the Maildir root.
std::string folder_dir(const std::string& root, std::string_view name);
// Every folder under root (wire names, INBOX first), sorted.
std::vector<std::string> list_folders(const std::string& root);
// Creates the Maildir++ folder (cur, new, tmp, maildirfolder). EEXIST when
// it exists.
bool create_folder(const std::string& root, std::string_view name);
// Removes a folder and its messages (not its children). False with errno.
bool delete_folder(const std::string& root, std::string_view name);

// The subscribed names (either version of the file, see imap_files).
std::vector<std::string> read_subscriptions(const std::string& root);
// Rewrites the file under Dovecot's subscriptions.lock, in the version it
// had (version 2 for a new file).
bool write_subscriptions(const std::string& root, const std::vector<std::string>& names);
// The next UIDVALIDITY for a folder under root, from Dovecot's
// dovecot-uidvalidity counter: larger than any given before there.
std::uint32_t uidvalidity_next(const std::string& root);

}  // namespace postern::imap
