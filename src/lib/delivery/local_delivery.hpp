// local_delivery: one local delivery, by the rules of the recipient's
// .qmail file (dot-qmail(5)), as qmail-local does: what the program local
// runs, and what lspawn's delivery agents run in-process (no exec), one
// delivery after another, after they have become the recipient's user. One piece of code for both, so `local` by hand,
// aliasforward's `local -i` and lspawn deliver alike.
//
// Trusts its arguments (lspawn built them from send's request and the
// user lookup) but not their content as paths: the extension only becomes
// a file name through dot_qmail::candidates. Runs as the recipient (never
// root), with the message on fd 0; returns an Outcome: a status code (0, 99,
// 100, 111 as in status.hpp) and the text that ends up in send's log and,
// for failures, in the bounce.
#pragma once
#include <string>

#include "mail/status.hpp"

namespace postern::delivery {

struct Outcome {
  int code = status::ok;
  std::string text;
  bool ok() const { return code == status::ok || code == status::ok_stop; }
};

inline Outcome temporary(std::string text) { return {status::temporary, std::move(text)}; }
inline Outcome permanent(std::string text) { return {status::permanent, std::move(text)}; }

// local's command-line arguments (local(8)).
struct LocalArgs {
  std::string user, home, local, dash, ext, domain, sender;
  // DEFAULTDELIVERY, or with `given` (local -i) the instructions themselves.
  std::string instructions;
  bool given = false;
};

// The whole delivery, in this process: chdir to home, check it, the loop
// check, the instructions, then line by line. Throws only what the
// standard library throws (bad_alloc); run_local catches it.
Outcome deliver_local(const LocalArgs& args);

// deliver_local, with what it throws (bad_alloc) made a temporary failure:
// for run_local and for lspawn's delivery agents, which deliver many times.
Outcome deliver_local_caught(const LocalArgs& args);

// What local's process does with its arguments and ends with: umask 077,
// SIGPIPE ignored (a program or the queue that stops reading gives EPIPE),
// log lines as "local:", the delivery, then finish_local.
[[noreturn]] void run_local(const LocalArgs& args);

// Writes the outcome's one result line to fd 1 (at most 990 printable
// bytes: lspawn keeps 1000) and exits with its code (99 becomes 0),
// without running exit handlers or flushing stdio: a forked child must not
// write out what its parent had buffered.
[[noreturn]] void finish_local(const Outcome& outcome);

}  // namespace postern::delivery
