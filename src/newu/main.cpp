// newu: compiles conf-home/users/assign into users/assign.cdb.
//
// Reads qmail-users(5) lines (see assign.hpp) up to a line holding a single
// ".", reports each bad line with its number, and on any error leaves the
// old assign.cdb in place. The new database replaces the old one
// atomically, so getpw never sees half of it. Then it runs newrcpt(8), so
// that smtpd accepts the new entries at once (a failure there is a
// warning: the assignments are in place). Exit 0 on success, 100 on a bad
// file, 111 when it cannot read or write.
#include <cstdio>
#include <string>

#include "mail/assign.hpp"
#include "mail/rebuild_recipients.hpp"
#include "base/cdb.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

int main() {
  log::set_program("newu");
  std::string source = conf::path("users/assign");
  auto text = read_file(source, 64 << 20);
  if (!text) log::die(status::temporary, "unable to read " + source);
  CdbWriter out;
  if (!out.start(conf::path("users/assign.cdb"))) log::die(status::temporary, "unable to create users/assign.cdb.tmp");
  int bad = 0;
  bool ended = false;
  int number = 0;
  for (auto& raw : split(*text, '\n')) {
    ++number;
    std::string_view line = raw;
    if (line == ".") {
      ended = true;
      break;
    }
    if (line.empty() || line[0] == '#') continue;
    std::string why;
    auto entry = parse_assign_line(line, why);
    if (!entry) {
      std::fprintf(stderr, "newu: %s line %d: %s\n", source.c_str(), number, why.c_str());
      ++bad;
      continue;
    }
    std::string value = encode_mail_user(entry->user);
    if (!out.add(entry->key, value)) log::die(status::temporary, "unable to write users/assign.cdb.tmp");
  }
  if (!ended) {
    std::fprintf(stderr, "newu: %s: no final line holding a single dot\n", source.c_str());
    ++bad;
  }
  if (bad) log::die(status::permanent, "users/assign.cdb left unchanged");
  if (!out.finish()) log::die(status::temporary, "unable to install users/assign.cdb");
  if (int rc = rebuild_recipients(); rc != 0)
    std::fprintf(stderr, "newu: warning: newrcpt exited %d: smtpd's list of recipients is not up to date\n", rc);
  return 0;
}
