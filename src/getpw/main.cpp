// getpw: finds who receives mail for a local part (qmail-getpw's job), for
// admins and tests: `getpw joe-list` says what lspawn would find. lspawn
// itself no longer runs this program: its lookup child calls the same
// function (delivery/user_lookup.hpp) in-process, as posternp.
//
// Takes the local part as its one argument (lowercased; the rules are in
// user_lookup.hpp). Prints the answer on fd 1 as user, uid, gid, home, dash
// and extension, each followed by NUL, and exits 0; exits 111 when a
// database cannot be read (a delivery would be retried).
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "delivery/user_lookup.hpp"
#include "mail/assign.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("getpw");
  if (argc != 2) log::die(status::temporary, "usage: getpw local");
  auto found = delivery::find_mail_user(argv[1]);
  if (!found.user) log::die(status::temporary, found.error);
  if (!write_all(1, encode_mail_user(*found.user))) log::die(status::temporary, "unable to write the answer");
  return 0;
}
