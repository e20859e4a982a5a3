// curl_library: libcurl, loaded with dlopen the first time remote fetches
// an MTA-STS policy (sts.cpp), never at remote's start.
//
// libcurl brings a dozen libraries (GnuTLS, libldap, Kerberos, libssh2,
// ...) whose loading and start-up cost every remote run 3.4 ms of CPU,
// measured here: remote runs once a message for every remote delivery,
// and fetches a policy only when a domain publishes one and the cached
// copy is stale. The functions keep libcurl's own types (decltype).
#pragma once
#include <curl/curl.h>

#include <string>

namespace postern::remote {

struct CurlLibrary {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_strerror) easy_strerror;
};

// libcurl.so.4's functions, loaded once; nullptr with why when it cannot be.
const CurlLibrary* curl_library(std::string& why);

}  // namespace postern::remote
