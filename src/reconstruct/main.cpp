// reconstruct: checks and repairs Maildirs, in the manner of Cyrus's
// reconstruct, so that imapd, pop3d, Dovecot and Courier can read them
// again and agree on them:
//
//   reconstruct [-n] [maildir]     the caller's own (default ~/Maildir)
//   reconstruct [-n] -u user ...   those users' ~/Maildir (root only)
//   reconstruct [-n] -a            every user who gets mail (root only)
//
// For each folder it makes missing directories, removes tmp/ leftovers,
// moves and renames messages with bad names, repairs dovecot-uidlist
// (keeping every UID it can; a new UIDVALIDITY only when the file cannot
// be read), dovecot-keywords and subscriptions, and counts maildirsize
// again (repair.hpp). It prints one line for each change and each problem
// it leaves, then one summary line a Maildir; -n prints what it would
// change and changes nothing. A second run changes nothing.
//
// Run as root it becomes each user before it reads a byte of their mail:
// no mail is touched with more rights than its owner has. Trusts: its
// arguments (the caller's), the password database and control/quotas;
// nothing in the Maildirs. Exits 0 when every Maildir was repaired (or is
// sound), 100 on a usage error, 111 when one could not be read or a
// problem was left.
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/privilege.hpp"
#include "mail/quota_limits.hpp"
#include "mail/recipients.hpp"
#include "mail/status.hpp"
#include "repair.hpp"

using namespace postern;

namespace {

[[noreturn]] void usage() { log::die(status::permanent, "usage: reconstruct [-n] [maildir] | [-n] -u user ... | [-n] -a"); }

// Repairs one tree as the current user; the exit code.
int repair_one(const std::string& root, const std::string& user, bool dry_run) {
  struct stat st {};
  if (::stat((root + "/cur").c_str(), &st) != 0 && ::stat((root + "/new").c_str(), &st) != 0) {
    std::printf("%s: not a Maildir (no cur/ or new/)\n", root.c_str());
    return status::temporary;
  }
  reconstruct::Options o;
  o.dry_run = dry_run;
  std::string why;
  if (auto l = quota_limits::for_user(user, why)) o.limits = *l;
  reconstruct::Report r;
  reconstruct::repair_tree(root, o, r);
  for (auto& c : r.changes) std::printf("%s%s\n", dry_run ? "would: " : "", c.c_str());
  for (auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
  if (r.changes.empty() && r.problems.empty())
    std::printf("%s: nothing to repair\n", root.c_str());
  else
    std::printf("%s: %zu change(s)%s, %zu problem(s) left\n", root.c_str(), r.changes.size(),
                dry_run ? " to make" : "", r.problems.size());
  std::fflush(stdout);
  return r.problems.empty() ? status::ok : status::temporary;
}

// As root: the user's ~/Maildir, repaired in a child that is the user.
int repair_as(const struct passwd& pw, bool dry_run) {
  std::string root = std::string(pw.pw_dir) + "/Maildir";
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) return status::ok;  // never got mail
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) return status::temporary;
  if (pid == 0) {
    if (!become(pw.pw_uid, pw.pw_gid)) {
      std::printf("%s: cannot become %s: %s\n", root.c_str(), pw.pw_name, std::strerror(errno));
      std::fflush(stdout);
      std::_Exit(status::temporary);
    }
    ::umask(077);
    int code = repair_one(root, pw.pw_name, dry_run);
    std::fflush(stdout);
    std::_Exit(code);
  }
  int w = 0;
  if (::waitpid(pid, &w, 0) != pid || !WIFEXITED(w)) return status::temporary;
  return WEXITSTATUS(w);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("reconstruct");
  std::vector<std::string> args(argv + 1, argv + argc);
  bool dry_run = false, all = false, users = false;
  while (!args.empty() && args[0].size() > 1 && args[0][0] == '-') {
    if (args[0] == "-n") dry_run = true;
    else if (args[0] == "-a") all = true;
    else if (args[0] == "-u") users = true;
    else if (args[0] == "--") { args.erase(args.begin()); break; }
    else usage();
    args.erase(args.begin());
  }
  bool root = ::getuid() == 0 && !conf::single_user;
  if ((all || users) && !root) log::die(status::permanent, "-a and -u are root's: a user repairs only his own Maildir");
  if (all && (users || !args.empty())) usage();
  if (users && args.empty()) usage();
  int worst = status::ok;
  auto note = [&](int code) {
    if (code != status::ok) worst = status::temporary;
  };
  if (all) {
    ::setpwent();
    std::vector<std::string> names;  // getpwent's entries do not outlive the next call
    while (struct passwd* pw = ::getpwent())
      if (recipients::account_receives(*pw)) names.emplace_back(pw->pw_name);
    ::endpwent();
    for (auto& n : names)
      if (struct passwd* pw = ::getpwnam(n.c_str())) note(repair_as(*pw, dry_run));
    return worst;
  }
  if (users) {
    for (auto& name : args) {
      struct passwd* pw = ::getpwnam(name.c_str());
      if (!pw || pw->pw_uid == 0) {
        std::printf("%s: no such user (root's mail is not reconstructed)\n", name.c_str());
        worst = status::temporary;
        continue;
      }
      note(repair_as(*pw, dry_run));
    }
    return worst;
  }
  if (args.size() > 1) usage();
  if (root) log::die(status::permanent, "as root, name the users (-u) or all of them (-a): root's own mail is not repaired");
  std::string dir = args.empty() ? "" : args[0];
  if (dir.empty() || dir[0] != '/') {
    const char* home = std::getenv("HOME");
    if (!home || home[0] != '/') log::die(status::temporary, "HOME is not set");
    dir = std::string(home) + "/" + (dir.empty() ? "Maildir" : dir);
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const struct passwd* me = ::getpwuid(::getuid());
  const char* user = std::getenv("USER");
  return repair_one(dir, me ? me->pw_name : user ? user : "", dry_run);
}
