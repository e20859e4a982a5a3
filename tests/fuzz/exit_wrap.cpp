// exit_wrap: __wrap__Exit for targets linked with -Wl,--wrap=_Exit (see
// exit_wrap.hpp). An _Exit(0) while armed becomes a longjmp back to the
// target; any other code while armed is reported as a finding; unarmed
// (libFuzzer's own exits) it is the real _Exit. Frames jumped over are not
// unwound, so the few bytes they hold leak: leak detection is off for
// this target.
#include "exit_wrap.hpp"

#include <cstdio>
#include <cstdlib>

#include "common.hpp"

namespace fuzz {
std::jmp_buf* exit_jump = nullptr;
}

extern "C" [[noreturn]] void __real__Exit(int code);

extern "C" [[noreturn]] void __wrap__Exit(int code) {
  std::jmp_buf* j = fuzz::exit_jump;
  fuzz::exit_jump = nullptr;
  if (j && code == 0) std::longjmp(*j, 1);
  if (j) fuzz::fail("the session ended its process with a nonzero code", std::to_string(code));
  __real__Exit(code);
}

// Linked with -Wl,--wrap=fsync too: durability is not what this target
// tests, and a disk flush per input would slow it a hundredfold.
extern "C" int __wrap_fsync(int) { return 0; }

extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
