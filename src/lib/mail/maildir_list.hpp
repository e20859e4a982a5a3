// maildir_list: reading a Maildir as a POP3 server does (qmail-pop3d,
// Courier, Dovecot): messages in new/ are moved to cur/ with an empty info
// ":2," (the client has now seen them listed), then cur/ is read once into
// a snapshot, oldest first. Messages delivered later are not in the
// snapshot, so they do not appear in a session that is already running.
//
// Runs as the mailbox's owner; trusts the caller for the directory.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::maildir {

struct Message {
  std::string name;        // file name in cur/
  std::uint64_t size = 0;  // with CRLF line ends (CrlfSize)
  std::time_t mtime = 0;
};

// Moves every message in dir/new to dir/cur/<name>:2, (names starting
// with '.' are left alone). Returns the count moved; -1 when dir/new
// cannot be read (errno set). A name already in cur/ is left in new/.
int move_new_to_cur(const std::string& dir);

// The names in a directory that do not start with '.' (Maildir's rule for
// messages). False (errno set) when it cannot be read.
bool visible_names(const std::string& dir, std::vector<std::string>& out);

// The messages in dir/cur, oldest first (modification time, then name),
// each with its size counted from its bytes. False (errno set) when
// dir/cur cannot be read; a message removed while reading is skipped.
bool list_cur(const std::string& dir, std::vector<Message>& out);

// The name with flag added to its info ("x:2,S" from "x:2," or "x"), flags
// kept sorted as the Maildir specification asks. Unchanged when present.
std::string with_flag(const std::string& name, char flag);

// The ",S=" (or ",W=") size in a message's base name, if there is one.
std::optional<std::uint64_t> name_size(std::string_view base, char which);

}  // namespace postern::maildir
