// inject: the whole of inject(8), callable from another program (sendmail)
// in its own process. Reads the message on descriptor 0; argv is inject's
// command line, argv[0] included. Returns the exit code for 0 (queued or
// printed); exits the process itself, with inject's codes and messages,
// on any failure. Trusts its caller as inject trusts whoever runs it.
#pragma once

namespace postern::inject {

int run(int argc, char** argv);

}  // namespace postern::inject
