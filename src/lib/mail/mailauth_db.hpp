// mailauth_db: the mail password database, conf-home/users/mailauth (see
// mailauth(5)). One entry a line, fields separated by ':':
//
//   name:hash:apop:flags:unix-user:uid:gid:home
//
// hash is an argon2id string from crypto_pwhash_str (or empty: no
// password), apop the APOP secret in hex (or empty: no APOP), flags "d"
// for a disabled entry. The account the mail belongs to is unix-user's
// (looked up at login), or uid, gid and home when those are set, or, with
// all four empty, the Unix user called name. Lines starting with '#' and
// empty lines are comments.
//
// The mailauth command keeps the text and compiles it into
// users/mailauth.cdb (key: name, value: the whole line), which is what
// checkpassword reads. Both are mode 0600 and belong to root.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::mailauth {

struct Entry {
  std::string name;
  std::string hash;   // $argon2id$... or empty
  std::string apop;   // hex, or empty
  std::string flags;  // "" or "d"
  std::string unix_user;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string home;
  ~Entry();
  bool disabled() const { return flags.find('d') != std::string::npos; }
  // True when uid, gid and home give the account (no Unix user).
  bool virtual_account() const { return uid.has_value(); }
};

// A name mailauth accepts: 1..64 bytes of letters, digits and . _ - + @ =,
// not starting with '-' or '.'.
bool valid_name(std::string_view name);

// Parses one line (no newline). nullopt with why set when it is malformed.
std::optional<Entry> parse(std::string_view line, std::string& why);
// The line for an entry (no newline).
std::string format(const Entry& e);

// The files, under conf-home.
std::string text_path();  // users/mailauth
std::string cdb_path();   // users/mailauth.cdb

}  // namespace postern::mailauth
