// imap_shares: how one user's IMAP session finds the folders others share
// with it (imapd(8), "Shared folders"). Folders are presented in two
// namespaces besides the user's own:
//   "Other Users.<owner>.<folder>"   another user's folder
//   "Shared.<folder>"                a folder of the account named in
//                                    control/imapshared (public folders)
// (an owner whose name has a '.' cannot be presented, and is not).
// Which owners to ask is an index, as Dovecot's acl_shared_dict is:
// conf-home/shares/<owner> lists the ACL identifiers ("user=bob",
// "group=staff", "anyone", "authenticated") that some folder of the owner
// grants any right; the owner's own session rewrites it after a SETACL or
// DELETEACL. The directory is like /tmp (mode 1777) and a file is
// believed only when its owner is the user it is named after. The index
// only says whom to ask: the rights themselves are read and checked by a
// process running as the owner (imapd-share(8)).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/imap_acl.hpp"

namespace postern::imap {

inline constexpr std::string_view other_users = "Other Users";
inline constexpr std::string_view public_folders = "Shared";

// A login that can own or ask for shared folders: printable, at most 64
// bytes, no '.', '/', quote, backslash or wildcard (imapd-share's check too).
bool shareable_name(std::string_view name);

// The account of control/imapshared, or "" when there is none.
std::string public_account();
// "Other Users.<owner>." or, for the public account, "Shared.".
std::string share_prefix(const std::string& owner);

// A presented name split into owner and the owner's own folder name
// ("Other Users.ann.Work" -> ann, Work; "Shared.News" -> the public
// account, News); nothing when name is not in either namespace or names
// no folder (the namespace or an owner alone).
struct SharedName {
  std::string owner;
  std::string folder;
};
std::optional<SharedName> split_shared(std::string_view name);
// Whether name is in either namespace (or is one of their roots).
bool in_shared_namespace(std::string_view name);

// As the owner, after an ACL changed: its index file from the ACLs of
// every one of its folders (their directories).
void publish_shares(const std::string& owner, const std::vector<std::string>& folder_dirs);
// The owners (other than who) whose index files name who.
std::vector<std::string> owners_sharing_with(const Identity& who);

}  // namespace postern::imap
