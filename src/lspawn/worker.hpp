// worker: one local delivery as lspawn's worker process carries it out
// (lspawn(8)). Runs as root in a child of lspawn; forks a lookup child
// (posternp) and a delivery child (the recipient), neither of which execs
// a program, and returns the report for send.
#pragma once
#include <string>

#include "mail/spawn_protocol.hpp"

namespace postern::lspawn {

// The request must have exactly one target. default_delivery is lspawn's
// argument.
spawn::Report deliver(const spawn::Request& req, const std::string& default_delivery);

}  // namespace postern::lspawn
