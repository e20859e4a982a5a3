// getpw: finds who receives mail for a local part (qmail-getpw's job), for
// admins and tests: `getpw joe-list` says what lspawn would find. lspawn
// itself no longer runs this program: its lookup child calls the same
// function (delivery/user_lookup.hpp) in-process, as posternp.
//
// Takes the local part as its argument (lowercased; the rules are in
// user_lookup.hpp), and the domain as a second one to ask the user
// directory too. Prints the answer on fd 1 as user, uid, gid, home, dash
// and extension, each followed by NUL, and exits 0; prints "mailhost H"
// when the directory places the address on the mailbox host H; exits 111
// when a database cannot be read (a delivery would be retried).
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "delivery/user_lookup.hpp"
#include "mail/assign.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("getpw");
  if (argc != 2 && argc != 3) log::die(status::temporary, "usage: getpw local [domain]");
  auto found = delivery::find_mail_user(argv[1], argc == 3 ? argv[2] : "");
  if (!found.mailhost.empty()) return write_all(1, "mailhost " + found.mailhost + "\n") ? 0 : status::temporary;
  if (!found.user) log::die(status::temporary, found.error);
  if (!write_all(1, encode_mail_user(*found.user))) log::die(status::temporary, "unable to write the answer");
  return 0;
}
