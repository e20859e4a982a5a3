// delivery_env: for programs that run from a .qmail line (aliasforward,
// dot-forward): the environment local gives them, and the hand-back to
// local of the deliveries they decide on, as .qmail instructions
// (local -i), so that every kind of delivery, its exit codes and its loop
// check are local's own.
#pragma once
#include <string>

namespace postern::delivery_env {

// An environment variable local sets, or "".
std::string get(const char* name);

// Runs conf-home/bin/local -i with the instructions, the message on fd 0
// (rewound first) and sender as the envelope sender of any forward; its
// result line goes to our stdout. Returns local's exit code (111 when it
// could not run or died).
int deliver(const std::string& instructions, const std::string& sender);

}  // namespace postern::delivery_env
