// exit_wrap: how the imapd session target gets control back from code that
// ends its process. imapd-mailbox calls std::_Exit(0) after LOGOUT, BYE and
// at end of input; the target is linked with -Wl,--wrap=_Exit, so those
// calls reach __wrap__Exit (exit_wrap.cpp), which jumps back to the point
// armed here. Any other exit code while armed is a finding (the input is
// kept). Trusts only the target that arms it.
#pragma once
#include <csetjmp>

namespace fuzz {

// Armed (non-null) while the session runs.
extern std::jmp_buf* exit_jump;

// Thrown by a transport at the end of the input, so the session's frames
// unwind (and free what they hold) instead of being jumped over.
struct EndOfInput {};

}  // namespace fuzz
