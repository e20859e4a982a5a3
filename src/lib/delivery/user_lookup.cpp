// user_lookup: the three steps of user_lookup.hpp, each a function. Reads
// users/assign.cdb and the password database (getpwnam: NSS); returns the
// MailUser or a temporary failure with its reason, and logs an assign
// entry it ignores (uid 0, or another uid in single-user mode).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/cdb.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "delivery/user_lookup.hpp"
#include "directory/mail_directory.hpp"
#include "mail/conf.hpp"

namespace postern::delivery {

namespace {

UserLookup failed(std::string why) { return {std::nullopt, std::move(why), ""}; }

// The password-database entry that owns local, with its extension; an
// error text when the database could not be read.
std::optional<MailUser> lookup_system(const std::string& local, std::string& error) {
  std::string name = local;
  for (;;) {
    errno = 0;
    struct passwd* pw = ::getpwnam(name.c_str());
    if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH) {
      error = "unable to read the password database: " + std::string(std::strerror(errno));
      return std::nullopt;
    }
    struct stat st {};
    if (pw && pw->pw_uid != 0 && ::stat(pw->pw_dir, &st) == 0 && st.st_uid == pw->pw_uid) {
      MailUser out;
      out.user = pw->pw_name;
      out.uid = pw->pw_uid;
      out.gid = pw->pw_gid;
      out.home = pw->pw_dir;
      out.ext = local.size() > name.size() ? local.substr(name.size() + 1) : "";
      out.dash = local.size() > name.size() ? "-" : "";
      return out;
    }
    auto dash = name.rfind('-');
    if (dash == std::string::npos || dash == 0) return std::nullopt;
    name.resize(dash);
  }
}

UserLookup alias_user(const std::string& local) {
  MailUser u;
  u.user = conf::user_alias;
  u.home = conf::path("alias");
  u.dash = "-";
  u.ext = local;
  if (conf::single_user) {
    u.uid = ::getuid();
    u.gid = ::getgid();
    return {u, "", ""};
  }
  errno = 0;
  struct passwd* pw = ::getpwnam(conf::user_alias);
  if (!pw) return failed(std::string("the alias user ") + conf::user_alias + " does not exist");
  u.uid = pw->pw_uid;
  u.gid = pw->pw_gid;
  return {u, "", ""};
}

// The directory's answer for local@domain; nullopt when it does not know
// the address (or none is configured), so the files decide.
std::optional<UserLookup> lookup_directory(const std::string& local, std::string_view domain) {
  auto& dir = directory::mail_directory();
  std::string why;
  if (!dir.reload(why)) return failed(why);
  if (!dir.configured() || domain.empty()) return std::nullopt;
  directory::MailEntry e;
  std::string ext;
  switch (dir.find_recipient(local, domain, e, ext, why)) {
    case directory::Found::error: return failed("unable to ask the user directory: " + why);
    case directory::Found::no: return std::nullopt;
    case directory::Found::yes: break;
  }
  if (e.alias()) return alias_user(local);
  if (!dir.here(e)) return UserLookup{std::nullopt, "", e.mailhost};
  if (!e.uid || !e.gid || e.home.empty() || e.login.empty())
    return failed("the directory entry " + e.dn + " names this host but no account");
  MailUser u;
  u.user = e.login;
  u.uid = *e.uid;
  u.gid = *e.gid;
  u.home = e.home;
  u.dash = ext.empty() ? "" : "-";
  u.ext = ext;
  return UserLookup{u, "", ""};
}

}  // namespace

UserLookup find_mail_user(std::string_view given, std::string_view domain) {
  std::string local = lower(given);
  if (local.size() > 1000 || has_control(local)) return failed("refused a malformed local part");

  CdbReader assign;
  if (assign.open(conf::path("users/assign.cdb"))) {
    MailUser u;
    switch (lookup_assign(assign, local, u)) {
      case Lookup::error: return failed("unable to read users/assign.cdb");
      case Lookup::found:
        if (conf::single_user ? u.uid == ::getuid() : u.uid != 0) return {u, "", ""};
        log::line("ignored users/assign entry for {} with uid {}", local, u.uid);
        break;
      case Lookup::absent: break;
    }
  } else if (errno != ENOENT) {
    return failed("unable to open users/assign.cdb");
  }

  if (!conf::single_user && !local.empty())
    if (auto found = lookup_directory(local, lower(domain))) return *found;

  if (!conf::single_user && !local.empty()) {
    std::string error;
    if (auto u = lookup_system(local, error)) return {*u, "", ""};
    if (!error.empty()) return failed(error);
  }
  return alias_user(local);
}

}  // namespace postern::delivery
