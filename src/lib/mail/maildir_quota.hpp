// maildir_quota: Maildir++ quotas, the `maildirsize` file in a Maildir's
// root that Courier, maildrop, Exim and Dovecot's "maildir" quota backend
// keep the same way, so that every program writing one Maildir counts
// against the same numbers:
//   line 1      the limits: "<bytes>S,<messages>C" (either may be missing)
//   each other  "<bytes> <messages>": a change, added up (negative for a
//               removal); a Maildir's usage is the sum of these lines
// The file is recalculated from the messages themselves (the ",S=" size in
// a name, else the file's size; every folder's cur/ and new/) when it is
// missing, longer than 5120 bytes, has a line that is not two numbers, has
// other limits than the caller's, or says "over quota" and is more than
// 15 minutes old: Maildir++'s rules. The new file is written in tmp/ and
// renamed into place, so no reader sees half of one.
//
// Runs as the Maildir's owner (local, imapd's and pop3d's mailbox stages,
// reconstruct). Trusts the caller for the path; trusts nothing in the
// file, which the owner can edit: a damaged file is recalculated, never
// believed. Never throws but bad_alloc.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::maildir_quota {

// The limits of one quota root; 0 is "no limit" for that resource.
struct Limits {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  bool any() const { return bytes != 0 || messages != 0; }
  bool operator==(const Limits&) const = default;
};

struct Usage {
  std::int64_t bytes = 0;
  std::int64_t messages = 0;
};

// "10000000S,1000C", "5000000S", "1000C", or "" for no limits: what line 1
// of maildirsize holds, in Courier's order.
std::string definition(const Limits& limits);
// Reads that line; nothing when it is not such a list.
std::optional<Limits> parse_definition(std::string_view line);

// A maildirsize file as read: its limits and the sum of its lines.
// `sound` is false when a line is not two numbers, the sums overflow or
// go below zero: the file must then be recalculated.
struct SizeFile {
  Limits limits;
  Usage usage;
  bool sound = false;
};
SizeFile parse_file(std::string_view text);

// The usage of the Maildir++ tree at root, counted from its files.
// Nothing (errno set) when root/cur cannot be read.
std::optional<Usage> count(const std::string& root);

// The usage of one folder (its cur/ and new/), counted from its files.
Usage count_folder(const std::string& dir);

// The Maildir++ root a folder directory belongs to: its parent when it has
// a `maildirfolder` file, else itself.
std::string root_of(const std::string& folder_dir);

// Whether adding bytes and messages keeps usage within limits.
bool fits(const Limits& limits, const Usage& usage, std::uint64_t bytes, std::uint64_t messages);

// The quota state of the Maildir at root, with these limits (from the
// administrator's settings, quota_limits.hpp): maildirsize read, or
// recalculated and rewritten by the rules above. Nothing (why set) when
// neither worked; callers then go on without a quota check.
std::optional<Usage> load(const std::string& root, const Limits& limits, std::string& why);

// Rewrites maildirsize from the files with these limits (reconstruct, and
// load()'s recalculation). False with why set when it could not.
bool recalculate(const std::string& root, const Limits& limits, Usage& usage, std::string& why);

// Adds one line "bytes messages" to maildirsize, in one write(2) with
// O_APPEND, when the file exists (no file, no quota: Maildir++'s rule).
void record(const std::string& root, std::int64_t bytes, std::int64_t messages);

// record(), under an fcntl lock on maildirsize, returning the usage the
// file said before the new line: of several writers at once, exactly one
// sees a threshold crossed. Nothing when there is no sound file.
std::optional<Usage> add(const std::string& root, std::int64_t bytes, std::int64_t messages);

// The size of one message file of the tree: its name's ",S=", else its
// size on disk. 0 when neither is known.
std::uint64_t message_size(const std::string& dir, std::string_view name);

}  // namespace postern::maildir_quota
