// local: delivers one message to one local recipient, by the rules of the
// recipient's .qmail file (dot-qmail(5)), as qmail-local does.
//
//   local USER HOME LOCAL DASH EXT DOMAIN SENDER DEFAULTDELIVERY
//   local -i USER HOME LOCAL DASH EXT DOMAIN SENDER INSTRUCTIONS
//
// With -i the instructions are given, in .qmail syntax, instead of being
// looked for in HOME: aliasforward uses that to deliver an alias's targets
// with the very same code. lspawn no longer execs this program: its
// delivery child runs the same function (delivery/local_delivery.hpp)
// in-process. This is the command-line face of it, for aliasforward and
// for admins.
//
// Runs as the recipient (never root), with the message on fd 0; trusts its
// arguments as local_delivery.hpp says. Writes one result line to fd 1 and
// exits 0 delivered, 100 bounce, 111 retry.
#include <string_view>

#include "delivery/local_delivery.hpp"

using namespace postern;
using namespace postern::delivery;

int main(int argc, char** argv) {
  bool given = argc == 10 && std::string_view(argv[1]) == "-i";
  if (given) {
    --argc;
    ++argv;
  }
  if (argc != 9)
    finish_local(temporary("usage: local [-i] USER HOME LOCAL DASH EXT DOMAIN SENDER DEFAULTDELIVERY (#4.3.5)"));
  LocalArgs a;
  a.user = argv[1];
  a.home = argv[2];
  a.local = argv[3];
  a.dash = argv[4];
  a.ext = argv[5];
  a.domain = argv[6];
  a.sender = argv[7];
  a.instructions = argv[8];
  a.given = given;
  run_local(a);
}
