// user_limits: the resource limits of the processes that run for one
// user (local and the .qmail programs it runs; pop3d's and imapd's mailbox
// stages), so that one mailbox or one delivery cannot take the host's
// memory, CPU or process table. The privileged parent (lspawn, the login
// parent) reads them and applies them in the child, before that child
// becomes the user, so the user cannot raise them again.
//
// Each is a control file named after the limit and the service (service
// is "local", "pop3d" or "imapd"):
//   memory<service>     bytes of data memory (RLIMIT_DATA)
//   cpu<service>        seconds of CPU time (RLIMIT_CPU; SIGXCPU, then
//                       SIGKILL 5 seconds later)
//   processes<service>  processes of that user id at once (RLIMIT_NPROC)
//   files<service>      open files (RLIMIT_NOFILE)
// A missing file means the default below; 0 means no limit of postern's
// (the inherited one stays). It trusts the control files (root's) and
// returns nullopt with why set when one is unreadable or not a number.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace postern {

struct UserLimits {
  unsigned long memory = 0;
  unsigned long cpu = 0;
  unsigned long processes = 0;
  unsigned long files = 0;
};

// The defaults of a service: generous for a person's mail, far below
// what takes a host down.
UserLimits default_user_limits(std::string_view service);

// Reads the control files of service.
std::optional<UserLimits> load_user_limits(std::string_view service, std::string& why);

// Sets them on this process, soft and hard (never above a hard limit it
// already has), and no core files. Async-signal-safe, for use between fork and exec; false
// (errno set) when one could not be set.
bool apply_user_limits(const UserLimits& limits);

}  // namespace postern
