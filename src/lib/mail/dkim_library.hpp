// dkim_library: libopendkim's header, for the programs that link it
// (dkimsign, authcheck). dkim.h is C99 and names the type _Bool, which C++
// spells bool (the same one byte on every ABI Debian builds for).
#pragma once
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
