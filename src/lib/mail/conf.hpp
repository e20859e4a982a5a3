// conf: what was fixed at build time: the home directory and the user names.
// The values come from conf-home and conf-users through a generated file
// (auto_conf.cpp, written by the Makefile), never from the environment, so
// a setuid program cannot be pointed elsewhere.
#pragma once
#include <string>
#include <string_view>

namespace postern::conf {

extern const char* const home;      // e.g. /var/postern
extern const bool single_user;      // every stage runs as the invoking user

extern const char* const user_alias;   // postalias
extern const char* const user_daemon;  // posternd
extern const char* const user_log;     // posternl
extern const char* const user_pw;      // posternp
extern const char* const user_queue;   // posternq
extern const char* const user_remote;  // posternr
extern const char* const user_send;    // posterns
extern const char* const user_tls;     // posternt: tlsd, the only reader of private keys
extern const char* const user_dkim;    // posternk: dkimsign, the only reader of DKIM keys
extern const char* const user_check;   // posternc: authcheck, which asks DNS about incoming mail
extern const char* const group_nofiles;
extern const char* const group_postern;

// home + "/" + relative, e.g. path("control/me").
std::string path(std::string_view relative);

}  // namespace postern::conf
