// shared_library: dlopen and dlsym (shared_library.hpp).
#include "base/shared_library.hpp"

#include <dlfcn.h>

namespace postern {

void* open_shared_library(std::initializer_list<const char*> names, const char* what, std::string& why) {
  for (const char* name : names)
    if (void* h = ::dlopen(name, RTLD_NOW | RTLD_LOCAL)) return h;
  const char* e = ::dlerror();
  why = std::string("unable to load ") + what + ": " + (e ? e : "not found");
  return nullptr;
}

void* shared_symbol(void* handle, const char* name) { return ::dlsym(handle, name); }

}  // namespace postern
