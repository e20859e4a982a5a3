// newaliases: compiles the aliases file (control/aliases, default
// /etc/aliases) into FILE.cdb, which aliasforward reads.
//
// Every bad line is reported with its number, and then nothing changes: the
// old database stays in place. The new one replaces it atomically, so a
// delivery never reads half a database. Aliases that refer to each other in
// a circle are reported as a warning (a circle is fine when one of its
// names is also a user, who then gets the mail). Exit 0 on success, 100 on
// a bad file, 111 when a file cannot be read or written. Then it runs
// newrcpt, so smtpd accepts a new alias at once (a warning if that fails).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "mail/aliases.hpp"
#include "mail/aliases_path.hpp"
#include "mail/conf.hpp"
#include "mail/rebuild_recipients.hpp"
#include "base/cdb.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

// Reports each circle of alias names once.
void warn_loops(const std::map<std::string, const aliases::Entry*>& byname) {
  std::set<std::string> done;
  std::vector<std::string> path;
  std::set<std::string> on_path;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (on_path.count(name)) {
      std::string circle;
      bool in = false;
      for (auto& p : path) {
        if (p == name) in = true;
        if (in) circle += p + " -> ";
      }
      std::fprintf(stderr, "newaliases: warning: a loop: %s%s\n", circle.c_str(), name.c_str());
      return;
    }
    if (done.count(name)) return;
    auto it = byname.find(name);
    if (it == byname.end()) return;
    path.push_back(name);
    on_path.insert(name);
    for (auto& t : it->second->targets)
      if (aliases::kind_of(t) == aliases::Kind::address && t.find('@') == std::string::npos) visit(lower(t));
    on_path.erase(name);
    path.pop_back();
    done.insert(name);
  };
  for (auto& [name, e] : byname) visit(name);
}

// A failure for want of rights says who may run newaliases (the files
// are root's, or the alias user's, as make setup left them).
[[noreturn]] void die_for(const std::string& what) {
  int e = errno;
  std::string who;
  if (!conf::single_user && (e == EACCES || e == EPERM) && ::geteuid() != 0)
    who = std::string("; newaliases must run as root or as ") + conf::user_alias;
  log::die(status::temporary, what + who);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("newaliases");
  (void)argv;
  if (argc > 1) log::die(status::permanent, "usage: newaliases");
  std::string why;
  auto path = aliases::file_path(why);
  if (!path) die_for(why);
  auto text = read_file(*path, 64 << 20);
  if (!text) die_for("unable to read " + *path + ": " + std::strerror(errno));
  std::vector<aliases::Error> errors;
  auto entries = aliases::parse(*text, errors);
  std::map<std::string, const aliases::Entry*> byname;
  for (auto& e : entries) {
    auto [it, fresh] = byname.emplace(e.name, &e);
    if (!fresh) errors.push_back({e.line, e.name + " is already defined on line " + std::to_string(it->second->line)});
  }
  for (auto& e : errors) std::fprintf(stderr, "newaliases: %s line %d: %s\n", path->c_str(), e.line, e.why.c_str());
  if (!errors.empty()) log::die(status::permanent, path->substr(0) + ".cdb left unchanged");
  warn_loops(byname);

  CdbWriter out;
  std::string db = *path + ".cdb";
  if (!out.start(db)) die_for("unable to create a new " + db + ": " + std::strerror(errno));
  for (auto& e : entries)
    if (!out.add(e.name, aliases::encode_targets(e.targets)))
      die_for("unable to write the new " + db + ": " + std::strerror(errno));
  if (!out.finish()) die_for("unable to install the new " + db + ": " + std::strerror(errno));
  std::printf("newaliases: %zu aliases in %s\n", entries.size(), db.c_str());
  // A new alias must be accepted at RCPT at once, as Postfix users expect.
  if (int rc = rebuild_recipients(); rc != 0)
    std::fprintf(stderr, "newaliases: warning: newrcpt exited %d: smtpd's list of recipients is not up to date\n", rc);
  return 0;
}
