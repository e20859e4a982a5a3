// getpw: finds who receives mail for a local part (qmail-getpw's job).
//
// Run by lspawn as posternp (never as root) for each local delivery, with
// the lowercased local part as its one argument. Prints the answer on fd 1 as
// user, uid, gid, home, dash and extension, each followed by NUL, and exits
// 0; exits 111 when a database cannot be read (the delivery is retried).
//
// The order, as qmail admins expect: users/assign.cdb; then the password
// database, where "joe-list-x" belongs to user joe (ext "list-x") when joe
// exists, is not uid 0 and owns his home directory; then the alias user,
// with the whole local part as the extension, so root, postmaster and
// unknown names reach ~alias/.qmail-<local> or ~alias/.qmail-default.
// In single-user mode only assign entries for the invoking uid and the alias
// home count.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mail/assign.hpp"
#include "base/cdb.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

[[noreturn]] void answer(const MailUser& u) {
  if (!write_all(1, encode_mail_user(u))) log::die(status::temporary, "unable to write the answer");
  std::exit(0);
}

// The password-database entry that owns local, with its extension.
bool lookup_system(const std::string& local, MailUser& out) {
  std::string name = local;
  for (;;) {
    errno = 0;
    struct passwd* pw = ::getpwnam(name.c_str());
    if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH)
      log::die(status::temporary, "unable to read the password database: " + std::string(std::strerror(errno)));
    struct stat st {};
    if (pw && pw->pw_uid != 0 && ::stat(pw->pw_dir, &st) == 0 && st.st_uid == pw->pw_uid) {
      out.user = pw->pw_name;
      out.uid = pw->pw_uid;
      out.gid = pw->pw_gid;
      out.home = pw->pw_dir;
      out.ext = local.size() > name.size() ? local.substr(name.size() + 1) : "";
      out.dash = local.size() > name.size() ? "-" : "";
      return true;
    }
    auto dash = name.rfind('-');
    if (dash == std::string::npos || dash == 0) return false;
    name.resize(dash);
  }
}

MailUser alias_user(const std::string& local) {
  MailUser u;
  u.user = conf::user_alias;
  u.home = conf::path("alias");
  u.dash = "-";
  u.ext = local;
  if (conf::single_user) {
    u.uid = ::getuid();
    u.gid = ::getgid();
    return u;
  }
  errno = 0;
  struct passwd* pw = ::getpwnam(conf::user_alias);
  if (!pw) log::die(status::temporary, std::string("the alias user ") + conf::user_alias + " does not exist");
  u.uid = pw->pw_uid;
  u.gid = pw->pw_gid;
  return u;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("getpw");
  if (argc != 2) log::die(status::temporary, "usage: getpw local");
  std::string local = lower(argv[1]);
  if (local.size() > 1000 || has_control(local)) log::die(status::temporary, "refused a malformed local part");

  CdbReader assign;
  if (assign.open(conf::path("users/assign.cdb"))) {
    MailUser u;
    switch (lookup_assign(assign, local, u)) {
      case Lookup::error: log::die(status::temporary, "unable to read users/assign.cdb");
      case Lookup::found:
        if (conf::single_user ? u.uid == ::getuid() : u.uid != 0) answer(u);
        log::line("ignored users/assign entry for {} with uid {}", local, u.uid);
        break;
      case Lookup::absent: break;
    }
  } else if (errno != ENOENT) {
    log::die(status::temporary, "unable to open users/assign.cdb");
  }

  MailUser u;
  if (!conf::single_user && !local.empty() && lookup_system(local, u)) answer(u);
  answer(alias_user(local));
}
