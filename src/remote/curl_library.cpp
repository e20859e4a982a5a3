// curl_library: libcurl's functions for curl_library.hpp, found once.
#include "curl_library.hpp"

#include "base/shared_library.hpp"

namespace postern::remote {

const CurlLibrary* curl_library(std::string& why) {
  static CurlLibrary lib;
  static std::string failure;
  static bool tried = false;
  if (!tried) {
    tried = true;
    void* h = open_shared_library({"libcurl.so.4"}, "libcurl", failure);
    auto find = [h](const char* name, auto& out) { return find_symbol(h, name, out); };
    if (h && !(find("curl_easy_init", lib.easy_init) && find("curl_easy_setopt", lib.easy_setopt) &&
               find("curl_easy_perform", lib.easy_perform) && find("curl_easy_getinfo", lib.easy_getinfo) &&
               find("curl_easy_cleanup", lib.easy_cleanup) && find("curl_easy_strerror", lib.easy_strerror)))
      failure = "libcurl lacks a function remote uses";
  }
  if (!failure.empty()) why = failure;
  return failure.empty() ? &lib : nullptr;
}

}  // namespace postern::remote
