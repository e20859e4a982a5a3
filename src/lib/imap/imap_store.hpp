// imap_store: the Maildir++ tree imapd serves, laid out as Courier and
// Dovecot lay it out: INBOX is ~/Maildir itself, folder "A.B" is the
// Maildir ~/Maildir/.A.B (names in modified UTF-7, '.' the hierarchy
// separator), flags are the file name's info (":2,DFRST" and keyword
// letters a-z), keyword names are in the folder's dovecot-keywords file,
// subscriptions in ~/Maildir/subscriptions. Each folder has a UID list,
// postern-uidlist (see postern-uidlist(5)): UIDVALIDITY, the next UID, the
// first UID no session has yet claimed as \Recent, and one line per
// message: its UID, its size with CRLF line ends, its base name. The list
// is only rewritten whole (temporary file, fsync, rename) under an flock
// on postern-uidlist.lock, so two sessions and a crash never give one
// message two UIDs or one UID two messages.
//
// Runs as the mailbox's owner; folder names come from the network and are
// checked by valid_name() before they become paths.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

enum : std::uint8_t { f_seen = 1, f_answered = 2, f_flagged = 4, f_deleted = 8, f_draft = 16 };

struct Flags {
  std::uint8_t sys = 0;
  std::uint32_t kw = 0;    // bit i: keyword i of the folder's dovecot-keywords
  std::string other;       // other info letters, kept as they were (P, ...)
  bool operator==(const Flags&) const = default;
};

// The base name (before ':') and the flags of a Maildir file name.
std::string_view base_of(std::string_view name);
Flags flags_of(std::string_view name);
// base + ":2," + the flag letters in ASCII order.
std::string name_with(std::string_view base, const Flags& f);
// The ",S=" (or ",W=") size in a base name, if there is one.
std::optional<std::uint64_t> name_size(std::string_view base, char which);

struct Entry {
  std::uint32_t uid = 0;
  std::string name;         // the file name in cur/
  std::uint64_t vsize = 0;  // size with CRLF line ends
};

class Folder {
 public:
  explicit Folder(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  // Moves new/ to cur/, gives new messages the next UIDs, forgets removed
  // ones, and returns the folder in UID order. With claim_recent the
  // messages nobody has claimed yet are this caller's \Recent ones: their
  // UIDs are >= recent_from. False with err on failure.
  bool sync(std::vector<Entry>& out, bool claim_recent, std::string& err);
  std::uint32_t uidvalidity() const { return validity_; }
  std::uint32_t uidnext() const { return next_; }
  std::uint32_t recent_from() const { return recent_from_; }

  // The folder's keywords (index = letter - 'a').
  std::vector<std::string> keywords();
  // The index of keyword, added to the file when create and missing; -1
  // when there is no room (26 keywords) or the file cannot be written.
  int keyword(const std::string& name, bool create);

 private:
  std::string dir_;
  std::uint32_t validity_ = 0, next_ = 1, recent_from_ = 1;
};

// A held flock on a folder's postern-uidlist.lock.
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir);
  ~FolderLock();
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

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

std::vector<std::string> read_subscriptions(const std::string& root);
bool write_subscriptions(const std::string& root, const std::vector<std::string>& names);

}  // namespace postern::imap
