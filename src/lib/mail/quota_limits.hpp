// quota_limits: the administrator's mailbox quotas, read from
// conf-home/control/quotas, one line a user:
//   name  storage  messages
// storage in bytes, or with K, M, G or T (powers of 1024); messages a
// count; 0 or "-" is no limit. The name "*" is everyone not named. A user
// with no line (and no "*" line) has no quota. A name "user/Folder" is a
// quota root of its own for one folder (within the user's). control/quotawarn is the
// percentage of either limit at which the user is warned once (default
// 90; 0 turns the warning off). setquota(8) rewrites control/quotas.
//
// Read by the programs that run as the mailbox's owner (local, imapd's
// mailbox stage, reconstruct) and by setquota; trusts the control files
// (root's); a line it cannot read is skipped and named in why.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/maildir_quota.hpp"

namespace postern::quota_limits {

struct Entry {
  std::string name;
  maildir_quota::Limits limits;
};

// One line of control/quotas; nothing when it is not "name storage messages".
std::optional<Entry> parse_line(std::string_view line);
// The line that parse_line reads back: "name storage messages".
std::string format_line(const Entry& e);
// "100M", "2G", "512000": bytes; nothing when not a number with a unit.
std::optional<std::uint64_t> parse_storage(std::string_view s);

// The limits of user (its own line, else "*", else none). Nothing (why
// set) when control/quotas cannot be read.
std::optional<maildir_quota::Limits> for_user(std::string_view user, std::string& why);

// The limits of a folder root, a line "user/Folder storage messages"
// (Folder as IMAP names it, "Archive" or "Lists.debian"); nothing when
// the folder has none. Its usage is the folder's own messages.
std::optional<maildir_quota::Limits> for_folder(std::string_view user, std::string_view folder, std::string& why);

// control/quotawarn, 0 to 100.
unsigned warn_percent();

// Whether usage went from below percent of a limit to at or above it.
bool crossed(const maildir_quota::Limits& limits, const maildir_quota::Usage& before,
             const maildir_quota::Usage& after, unsigned percent);

}  // namespace postern::quota_limits
