// fuzz_conf: the compiled-in settings (mail/conf.hpp) for the fuzz
// targets, in place of the auto_conf.cpp an instance gets: the home is a
// scratch directory made when the target starts, single-user, so nothing
// a target does touches a real instance. Returns the same names as
// conf-users' defaults; nothing here is trusted input.
#include "common.hpp"
#include "mail/conf.hpp"

namespace postern::conf {
const char* const home = [] {
  static const std::string h = fuzz::scratch_dir() + "/home";
  return h.c_str();
}();
const bool single_user = true;
const char* const user_alias = "postalias";
const char* const user_daemon = "posternd";
const char* const user_log = "posternl";
const char* const user_pw = "posternp";
const char* const user_queue = "posternq";
const char* const user_remote = "posternr";
const char* const user_send = "posterns";
const char* const user_tls = "posternt";
const char* const user_dkim = "posternk";
const char* const user_check = "posternc";
const char* const group_nofiles = "nofiles";
const char* const group_postern = "postern";
}  // namespace postern::conf
