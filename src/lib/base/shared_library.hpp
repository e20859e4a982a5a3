// shared_library: a shared library opened with dlopen when first needed
// rather than linked, for the few libraries whose start-up costs every
// process that links them more than the rare use is worth (libldap with
// GnuTLS in smtpd; libcurl with its dozen dependencies in remote). The
// caller keeps a table of function pointers typed by decltype of the
// library's own declarations, so a mismatch is a compile error.
#pragma once
#include <initializer_list>
#include <string>

namespace postern {

// Opens the first of names that loads (RTLD_NOW | RTLD_LOCAL); nullptr with
// why set when none does. The handle is never closed.
void* open_shared_library(std::initializer_list<const char*> names, const char* what, std::string& why);

// The address of name in handle (or its dependencies), nullptr if none.
void* shared_symbol(void* handle, const char* name);

// Sets out to name's address typed as F; false when it is missing.
template <typename F>
bool find_symbol(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(shared_symbol(handle, name));
  return out != nullptr;
}

}  // namespace postern
