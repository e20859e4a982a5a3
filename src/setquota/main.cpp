// setquota: sets or shows the mailbox quotas in control/quotas
// (quota_limits.hpp), for root and for the administrators named in
// control/quotaadmins, one login name a line; imapd's SETQUOTA runs it.
//
//   setquota NAME STORAGE MESSAGES   sets NAME's line ("*": everyone
//                                    else); STORAGE in bytes or with
//                                    K/M/G/T, MESSAGES a count, 0 or "-"
//                                    for no limit; both "-" removes it
//   setquota -l [NAME]               prints the lines (or NAME's limits)
//
// Installed setuid root in a multi-user install, as the one program that
// may write control/quotas. It takes nothing from its environment or its
// working directory, reads only control/quotaadmins and control/quotas,
// checks its caller by real uid before it reads an argument, and
// rewrites control/quotas whole under a lock (a temporary file,
// fsync, rename). Exits 0 when done, 100 when the caller may not or the
// arguments are wrong, 111 when a file could not be read or written.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/quota_limits.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

[[noreturn]] void usage() {
  log::die(status::permanent, "usage: setquota NAME STORAGE MESSAGES | setquota -l [NAME]");
}

// Root, the install's own user in a single-user install, or a login
// listed in control/quotaadmins.
bool caller_may() {
  uid_t uid = ::getuid();
  if (uid == 0 || (conf::single_user && uid == ::geteuid())) return true;
  const struct passwd* pw = ::getpwuid(uid);
  if (!pw) return false;
  std::string name = pw->pw_name;
  auto admins = control::lines("quotaadmins");
  if (!admins) log::die(status::temporary, "unable to read control/quotaadmins");
  for (const auto& a : *admins)
    if (a == name) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("setquota");
  ::umask(022);  // control/quotas is for everyone to read; imapd's umask is 077
  if (!caller_may()) log::die(status::permanent, "only root and the logins in control/quotaadmins may set quotas");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--") args.erase(args.begin());
  auto lines = control::lines("quotas");
  if (!lines) log::die(status::temporary, "unable to read control/quotas");

  if (!args.empty() && args[0] == "-l") {
    if (args.size() > 2) usage();
    for (const auto& l : *lines) {
      auto e = quota_limits::parse_line(l);
      if (e && (args.size() == 1 || e->name == args[1])) std::printf("%s\n", quota_limits::format_line(*e).c_str());
    }
    return status::ok;
  }
  if (args.size() != 3) usage();
  auto want = quota_limits::parse_line(args[0] + " " + args[1] + " " + args[2]);
  if (!want) log::die(status::permanent, "not a name, a storage size and a message count: " + log::printable(args[0] + " " + args[1] + " " + args[2], 200));

  // One writer at a time: a lock on the directory, which the rename
  // below does not replace (a lock on the file would stay on the old one).
  std::string path = conf::path("control/quotas");
  Fd dir(::open(conf::path("control").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.ok() || ::flock(dir.get(), LOCK_EX) != 0) log::die(status::temporary, "unable to lock control/");
  lines = control::lines("quotas");  // again, under the lock
  if (!lines) log::die(status::temporary, "unable to read control/quotas");
  std::string text;
  bool replaced = false;
  for (const auto& l : *lines) {
    auto e = quota_limits::parse_line(l);
    if (e && e->name == want->name) {
      if (!replaced && want->limits.any()) text += quota_limits::format_line(*want) + "\n";
      replaced = true;
      continue;
    }
    text += l + "\n";
  }
  if (!replaced && want->limits.any()) text += quota_limits::format_line(*want) + "\n";
  if (!write_file_atomic(path, text, 0644, true)) log::die(status::temporary, "unable to write control/quotas");
  log::line("{} set the quota of {} to {} bytes, {} messages", ::getuid(), want->name, want->limits.bytes,
            want->limits.messages);
  return status::ok;
}
