// privilege: dropping from root to a postern user or a mail user, for the
// few programs that start others (start, lspawn). In single-user mode every
// call is a no-op, because everything already runs as the invoking user.
#pragma once
#include <sys/types.h>

#include <string>

namespace postern {

// Becomes uid/gid with gid as the only group. False (errno set) when any
// step fails; the caller must then not run the program it meant to.
bool become(uid_t uid, gid_t gid);

// Becomes the named system user (with its primary group). Fails when the
// user does not exist.
bool become_user(const std::string& name);

}  // namespace postern
