// newrcpt: compiles the list of local parts that exist into
// conf-home/control/recipients.cdb, which smtpd reads to refuse unknown
// local recipients at RCPT time (see recipients.hpp for the keys).
//
// Run as root (in a single-user install, as its user) after a change to
// users/assign, to the users or to anybody's .qmail files. It follows
// getpw's rules, as a superset (an address it lists may still bounce; one
// it omits is refused, so it errs towards listing):
//   - users/assign: "=local" entries exist (when their .qmail file or a
//     -default one does); "+prefix" entries give the local parts their
//     home's .qmail files stand for, or all of them when dash is empty;
//   - the password database (multi-user only): each user with uid != 0
//     who owns his home, and user-ext for each .qmail-ext (user-ext-* for
//     each .qmail-ext-default, user-* for .qmail-default);
//   - the alias user's .qmail-local files, and with .qmail-default
//     everything, except when that file only runs aliasforward (as make
//     setup writes it): then the names in the aliases file.
// Exit 0 when the database is in place, 111 when something cannot be read
// or written (the old database then stays).
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "mail/aliases.hpp"
#include "mail/assign.hpp"
#include "mail/control.hpp"
#include "base/cdb.hpp"
#include "mail/conf.hpp"
#include "mail/dot_qmail.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/recipients.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

std::set<std::string> keys;

// The names in home that start with ".qmail" + dash + ext_prefix, without
// ".qmail" + dash. A home that cannot be read gives nothing (its owner's
// extensions are then refused); that is logged.
std::vector<std::string> qmail_files(const std::string& home, const std::string& dash) {
  std::vector<std::string> out;
  DIR* d = ::opendir(home.c_str());
  if (!d) {
    log::line("warning: unable to read {}: {}", home, std::strerror(errno));
    return out;
  }
  std::string start = ".qmail" + dash;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > start.size() && name.starts_with(start)) out.push_back(name.substr(start.size()));
  }
  ::closedir(d);
  return out;
}

void add_files(const std::string& home, const std::string& dash, const std::string& local_prefix,
               const std::string& ext_prefix) {
  std::vector<std::string> found;
  for (auto& name : qmail_files(home, dash)) recipients::keys_for_file(local_prefix, ext_prefix, name, found);
  keys.insert(found.begin(), found.end());
}

// True when the alias user's .qmail-default does nothing but run
// aliasforward (without -p): it then delivers only the aliases' names.
bool only_aliasforward(const std::string& file) {
  auto text = read_file(file, 1 << 20);
  if (!text) return false;
  auto lines = dot_qmail::parse(*text);
  if (lines.empty()) return false;
  for (auto& l : lines) {
    if (l.kind != dot_qmail::Kind::program) return false;
    auto words = split(trim(l.value), ' ');
    if (words.size() != 1 || !words[0].ends_with("/aliasforward")) return false;
  }
  return true;
}

void add_aliases() {
  auto path = control::line("aliases", "/etc/aliases");
  if (!path) log::die(status::temporary, "unable to read control/aliases");
  auto text = read_file(*path, 64 << 20);
  if (!text) {
    if (errno == ENOENT) return;
    log::die(status::temporary, "unable to read " + *path);
  }
  std::vector<aliases::Error> errors;
  for (auto& e : aliases::parse(*text, errors)) keys.insert("=" + lower(e.name));
}

void add_alias_user() {
  std::string home = conf::path("alias");
  std::vector<std::string> found;
  for (auto& name : qmail_files(home, "-")) {
    if (name == "default" && only_aliasforward(home + "/.qmail-default")) {
      add_aliases();
      continue;
    }
    recipients::keys_for_file("", "", name, found);
  }
  keys.insert(found.begin(), found.end());
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void add_assign() {
  auto text = read_file(conf::path("users/assign"), 64 << 20);
  if (!text) {
    if (errno == ENOENT) return;
    log::die(status::temporary, "unable to read users/assign");
  }
  for (auto& raw : split(*text, '\n')) {
    if (raw == ".") break;
    if (raw.empty() || raw[0] == '#') continue;
    std::string why;
    auto e = parse_assign_line(raw, why);
    if (!e) continue;  // newu reports it
    const MailUser& u = e->user;
    if (conf::single_user ? u.uid != ::getuid() : u.uid == 0) continue;  // getpw ignores it
    std::string name = e->key.substr(1);
    if (e->key[0] == '=') {
      bool found = u.dash.empty();
      if (auto c = dot_qmail::candidates(u.dash, u.ext); c && !found)
        for (auto& cand : *c)
          if (exists(u.home + "/" + cand.name)) found = true;
      if (found) keys.insert("=" + name);
    } else if (u.dash.empty()) {
      keys.insert("+" + name);
    } else {
      add_files(u.home, u.dash, name, u.ext);
    }
  }
}

void add_passwd() {
  ::setpwent();
  while (struct passwd* pw = ::getpwent()) {
    if (!recipients::account_receives(*pw)) continue;
    std::string name = pw->pw_name;
    keys.insert("=" + name);
    add_files(pw->pw_dir, "-", name + "-", "");
  }
  ::endpwent();
}

}  // namespace

int main() {
  log::set_program("newrcpt");
  add_assign();
  if (!conf::single_user) add_passwd();
  add_alias_user();

  std::string path = conf::path("control/recipients.cdb");
  CdbWriter out;
  // smtpd reads it as posternd (group nofiles); nobody else needs to.
  if (!out.start(path, conf::single_user ? 0644 : 0640)) log::die(status::temporary, "unable to create control/recipients.cdb.tmp");
  if (!conf::single_user) {
    // /etc/group may be in the middle of being replaced (groupadd): look
    // again before giving up.
    struct group* g = nullptr;
    for (int i = 0; i < 10 && !g; ++i) {
      if (i) ::usleep(200000);
      g = ::getgrnam(conf::group_nofiles);
    }
    if (!g) log::die(status::temporary, "unable to find the group " + std::string(conf::group_nofiles));
    if (!out.set_group(g->gr_gid))
      log::die(status::temporary, "unable to give control/recipients.cdb the group " + std::string(conf::group_nofiles) + ": " +
                        std::strerror(errno));
  }
  for (auto& k : keys)
    if (!out.add(k, "")) log::die(status::temporary, "unable to write control/recipients.cdb.tmp");
  if (!out.finish()) log::die(status::temporary, "unable to install control/recipients.cdb");
  std::printf("newrcpt: %zu entries in %s\n", keys.size(), path.c_str());
  return 0;
}
