// aliasforward: delivers mail for the names in the aliases database, from a
// .qmail file of the alias user (as qmail's fastforward did):
//
//   alias/.qmail-default:   |CONF-HOME/bin/aliasforward
//   alias/.qmail-root:      |CONF-HOME/bin/aliasforward -p
//                           ./Maildir/
//
// It looks up $DEFAULT (or $EXT, else $LOCAL), lowercased, in the database
// newaliases wrote, expands the entry (aliases of aliases, :include: files
// read now, \name), and hands the result to local as .qmail instructions
// (&address, |command, /file), so that every kind of delivery, its exit
// codes and its loop check are local's own. When "owner-NAME" is an alias
// too, owner-NAME@HOST becomes the envelope sender of the deliveries, so
// that their bounces go to the list's owner.
//
// A name not in the database is looked up as NAME@HOST in the user
// directory (LDAP, postern-ldap(5)) when control/ldapserver names one: an
// alias entry there (mailRoutingAddress, rfc822MailMember) forwards to its
// addresses. A name found in neither bounces ("no mailbox here by that name"),
// unless -p is given: then aliasforward exits 0 without delivering, so the
// next line of the .qmail file applies; and when it does deliver, exits 99
// so that the next line does not.
//
// Names that lead back to themselves deliver to the Unix user of that name
// (sendmail's rule); a circle with no such user bounces as a loop.
#include <pwd.h>

#include <cstdlib>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "directory/mail_directory.hpp"
#include "mail/aliases.hpp"
#include "mail/aliases_path.hpp"
#include "base/cdb.hpp"
#include "mail/delivery_env.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/status.hpp"
#include "base/strings.hpp"

using namespace postern;

namespace {

constexpr int max_depth = 20;
constexpr std::size_t max_targets = 10000;

[[noreturn]] void quit(int code, const std::string& text) {
  write_all(1, text + "\n");
  std::exit(code);
}

struct Expansion {
  CdbReader& db;
  std::string host;
  std::vector<std::string> lines;  // .qmail instructions
  int include_depth = 0;

  std::set<std::string> seen;  // each target once, however many ways lead to it

  void add(const std::string& line) {
    if (!seen.insert(line[0] == '&' ? lower(line) : line).second) return;
    if (lines.size() >= max_targets) quit(status::permanent, "The alias expands to too many targets. (#5.4.6)");
    lines.push_back(line);
  }

  void targets(const std::vector<std::string>& list, std::vector<std::string>& chain) {
    for (auto& t : list) target(t, chain);
  }

  void target(const std::string& t, std::vector<std::string>& chain) {
    switch (aliases::kind_of(t)) {
      case aliases::Kind::program: add(t); return;
      case aliases::Kind::file: add(t); return;
      case aliases::Kind::local_only: add("&" + t.substr(1) + "@" + host); return;
      case aliases::Kind::include: include(t.substr(9), chain); return;
      case aliases::Kind::address: break;
    }
    if (t.find('@') != std::string::npos) {
      add("&" + t);
      return;
    }
    std::string name = lower(t);
    bool in_chain = false;
    for (auto& c : chain) in_chain |= c == name;
    auto value = in_chain ? std::nullopt : db.find(name);
    if (db.read_error()) quit(status::temporary, "Unable to read the aliases database. (#4.3.0)");
    if (value) {
      if (chain.size() >= max_depth) quit(status::permanent, "Aliases nest too deeply. (#5.4.6)");
      chain.push_back(name);
      targets(aliases::decode_targets(*value), chain);
      chain.pop_back();
      return;
    }
    if (in_chain && !::getpwnam(name.c_str())) {
      std::string circle;
      for (auto& c : chain) circle += c + " -> ";
      quit(status::permanent, "The aliases form a loop: " + circle + name + ". (#5.4.6)");
    }
    add("&" + t + "@" + host);
  }

  void include(std::string path, std::vector<std::string>& chain) {
    path = std::string(trim(path));
    if (include_depth >= 10) quit(status::permanent, "Include files nest too deeply (a loop?): " + path + ". (#5.4.6)");
    errno = 0;
    auto text = read_file(path, 16 << 20);
    if (!text && (errno == ENOENT || errno == ENOTDIR)) {
      // As Postfix's local does (5.3.5): a list that is not there stays
      // away however long the message waits, so the sender learns now; a
      // file that is there but unreadable (EACCES, EIO) may be fixed soon.
      quit(status::permanent, "The include file " + path + " does not exist. (#5.3.5)");
    }
    if (!text)
      quit(status::temporary, "Unable to read the include file " + path + ": " + std::strerror(errno) + ". (#4.3.0)");
    ++include_depth;
    for (auto& line : split(*text, '\n')) {
      auto l = trim(line);
      if (l.empty() || l.front() == '#') continue;
      std::string why;
      auto list = aliases::split_targets(l, why);
      if (!why.empty()) quit(status::temporary, "The include file " + path + " has a bad line: " + why + " (#4.3.0)");
      targets(list, chain);
    }
    --include_depth;
  }
};

// The forwarding addresses of key@host in the user directory; nullopt when
// it has no alias of that name (or none is configured).
std::optional<std::vector<std::string>> directory_alias(const std::string& key, const std::string& host) {
  auto& dir = directory::mail_directory();
  std::string why;
  if (!dir.reload(why)) quit(status::temporary, "Unable to read the user directory's settings: " + why + ". (#4.3.0)");
  if (!dir.configured()) return std::nullopt;
  directory::MailEntry e;
  std::string ext;
  switch (dir.find_recipient(key, host, e, ext, why)) {
    case directory::Found::error: quit(status::temporary, "Unable to ask the user directory: " + why + ". (#4.3.0)");
    case directory::Found::no: return std::nullopt;
    case directory::Found::yes: break;
  }
  if (!e.alias() || !ext.empty()) return std::nullopt;
  return e.forward;
}

[[noreturn]] void not_here(bool pass, const std::string& key, const std::string& host) {
  if (auto targets = directory_alias(key, host)) {
    std::string instructions;
    for (auto& t : *targets) instructions += "&" + t + "\n";
    int code = delivery_env::deliver(instructions, delivery_env::get("SENDER"));
    std::exit(code == status::ok && pass ? status::ok_stop : code);
  }
  if (pass) std::exit(0);
  quit(status::permanent, "Sorry, no mailbox here by that name. (#5.1.1)");
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("aliasforward");
  bool pass = argc == 2 && std::string_view(argv[1]) == "-p";
  if (argc > 2 || (argc == 2 && !pass)) quit(status::temporary, "usage: aliasforward [-p] (#4.3.5)");
  std::string key = delivery_env::get("DEFAULT");
  if (key.empty()) key = delivery_env::get("EXT");
  if (key.empty()) key = delivery_env::get("LOCAL");
  // A quoted local part ("x y"@host) names the alias x y.
  if (key.size() >= 2 && key.front() == '"' && key.back() == '"') {
    std::string plain;
    for (std::size_t i = 1; i + 1 < key.size(); ++i) {
      if (key[i] == '\\' && i + 2 < key.size()) ++i;
      plain += key[i];
    }
    key = plain;
  }
  key = lower(key);
  std::string host = delivery_env::get("HOST");
  if (key.empty() || host.empty()) quit(status::temporary, "aliasforward runs from a .qmail file. (#4.3.5)");

  auto path = aliases::file_path();
  if (!path) quit(status::temporary, "Unable to read control/aliases. (#4.3.0)");
  CdbReader db;
  if (!db.open(*path + ".cdb")) {
    if (errno != ENOENT) quit(status::temporary, "Unable to open " + *path + ".cdb. (#4.3.0)");
    not_here(pass, key, host);
  }
  auto value = db.find(key);
  if (db.read_error()) quit(status::temporary, "Unable to read the aliases database. (#4.3.0)");
  if (!value) not_here(pass, key, host);

  Expansion x{db, host, {}, 0, {}};
  std::vector<std::string> chain{key};
  x.targets(aliases::decode_targets(*value), chain);
  if (x.lines.empty()) quit(status::permanent, "The alias " + key + " has no targets. (#5.1.1)");
  std::string instructions;
  for (auto& l : x.lines) instructions += l + "\n";

  std::string sender = delivery_env::get("SENDER");
  if (db.find("owner-" + key)) sender = "owner-" + key + "@" + host;

  int code = delivery_env::deliver(instructions, sender);
  if (code == status::ok && pass) return status::ok_stop;
  return code;
}
