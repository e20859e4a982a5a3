// lspawn: runs each local delivery that send asks for, as the recipient's
// user, and reports the result.
//
// Started by start as root (the only postern program besides start that
// keeps root), with send's requests on fd 0 and the reports to send on fd 1
// (see spawn_protocol.hpp); its one argument is the default delivery given
// to start. It forks a lookup process (posternp) once, and one delivery
// agent for each recipient user id it delivers to, kept while in use, so
// the common delivery forks nothing and execs nothing (spawner.hpp,
// children.hpp, DESIGN.md "Performance"). Concurrency is send's to limit.
// When send closes fd 0, lspawn exits; its children see end of file, finish
// what they are doing and exit.
#include <string>

#include "base/log.hpp"
#include "mail/status.hpp"
#include "spawner.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("lspawn");
  if (argc != 2) log::die(status::temporary, "usage: lspawn defaultdelivery");
  return lspawn::run(argv[1]);
}
