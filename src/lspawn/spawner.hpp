// spawner: lspawn's root parent as one event loop (lspawn(8), "Inside
// lspawn"): send's requests on fd 0, reports on fd 1, the lookup process
// and the delivery agents (children.hpp) each on its own socket. It never
// blocks on a child: a stuck user's delivery holds only that delivery, and
// a stuck lookup is killed after lookup_timeout and the delivery deferred.
// Trusts send's request format only as far as spawn::decode_request checks
// it, and what a child answers only as far as delivery/agent_wire checks it.
#pragma once
#include <string>

namespace postern::lspawn {

// Runs until send closes fd 0; returns the exit code.
int run(const std::string& default_delivery);

}  // namespace postern::lspawn
