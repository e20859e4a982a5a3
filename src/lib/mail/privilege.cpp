// privilege: see privilege.hpp.
#include "mail/privilege.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>

#include "mail/conf.hpp"

namespace postern {

bool become(uid_t uid, gid_t gid) {
  if (conf::single_user) return true;
  if (::setgroups(1, &gid) != 0) return false;
  if (::setgid(gid) != 0) return false;
  if (::setuid(uid) != 0) return false;
  // A setuid that left any way back to root is a failure.
  if (uid != 0 && (::geteuid() == 0 || ::getuid() == 0)) return false;
  return true;
}

bool become_user(const std::string& name) {
  if (conf::single_user) return true;
  errno = 0;
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) {
    if (errno == 0) errno = ENOENT;
    return false;
  }
  return become(pw->pw_uid, pw->pw_gid);
}

}  // namespace postern
