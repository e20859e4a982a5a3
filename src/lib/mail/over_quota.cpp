// over_quota: conf-home/quota/NAME marks (over_quota.hpp).
#include "mail/over_quota.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "mail/conf.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/quota_limits.hpp"

namespace postern::over_quota {

namespace {

constexpr std::time_t believed_for = 3600;

std::string path_of(std::string_view user) { return conf::path("quota/" + std::string(user)); }

}  // namespace

bool valid_name(std::string_view user) {
  if (user.empty() || user.size() > 128 || user[0] == '.') return false;
  for (char c : user)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

void mark(std::string_view user) {
  if (!valid_name(user)) return;
  std::string p = path_of(user);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) return;
  ::futimens(fd, nullptr);
  ::close(fd);
}

void unmark(std::string_view user) {
  if (valid_name(user)) ::unlink(path_of(user).c_str());
}

void recheck(std::string_view user, const std::string& root) {
  struct stat st {};
  if (!valid_name(user) || ::lstat(path_of(user).c_str(), &st) != 0) return;
  std::string why;
  auto limits = quota_limits::for_user(user, why);
  if (!limits) return;
  auto usage = maildir_quota::load(root, *limits, why);
  if (usage && maildir_quota::fits(*limits, *usage, 0, 0)) unmark(user);
}

bool marked(std::string_view user) {
  if (!valid_name(user)) return false;
  struct stat st {};
  if (::lstat(path_of(user).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (std::time(nullptr) - st.st_mtime > believed_for) return false;
  if (conf::single_user) return true;
  const struct passwd* pw = ::getpwnam(std::string(user).c_str());
  return pw && pw->pw_uid != 0 && st.st_uid == pw->pw_uid;
}

}  // namespace postern::over_quota
