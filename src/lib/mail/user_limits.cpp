// user_limits: see user_limits.hpp.
#include "mail/user_limits.hpp"

#include <sys/resource.h>

#include "mail/control.hpp"

namespace postern {

namespace {

constexpr unsigned long mb = 1024 * 1024;
constexpr rlim_t cpu_grace = 5;  // seconds between SIGXCPU and SIGKILL

bool set(int resource, unsigned long value, rlim_t extra_hard) {
  if (value == 0) return true;
  struct rlimit now {};
  if (::getrlimit(resource, &now) != 0) return false;
  rlim_t soft = static_cast<rlim_t>(value);
  rlim_t hard = soft + extra_hard;
  if (now.rlim_max != RLIM_INFINITY) {
    if (hard > now.rlim_max) hard = now.rlim_max;
    if (soft > hard) soft = hard;
  }
  struct rlimit want {soft, hard};
  return ::setrlimit(resource, &want) == 0;
}

// AddressSanitizer maps terabytes of shadow memory at start, which a data
// limit forbids: a sanitizer build (make test-asan) leaves memory alone.
bool set_memory(unsigned long bytes) {
#if defined(__SANITIZE_ADDRESS__)
  (void)bytes;
  return true;
#else
  return set(RLIMIT_DATA, bytes, 0);
#endif
}

}  // namespace

UserLimits default_user_limits(std::string_view service) {
  UserLimits l;
  // 512 MB: a spam filter or a large message read whole, with room to spare.
  l.memory = 512 * mb;
  l.cpu = service == "local" ? 300 : service == "imapd" ? 3600 : 600;
  l.processes = 1000;
  l.files = 1024;
  return l;
}

std::optional<UserLimits> load_user_limits(std::string_view service, std::string& why) {
  UserLimits d = default_user_limits(service);
  std::string s(service);
  auto memory = control::number("memory" + s, d.memory);
  auto cpu = control::number("cpu" + s, d.cpu);
  auto processes = control::number("processes" + s, d.processes);
  auto files = control::number("files" + s, d.files);
  if (!memory || !cpu || !processes || !files) {
    why = "unable to read control/memory" + s + ", cpu" + s + ", processes" + s + " or files" + s +
          ", or one is not a number";
    return std::nullopt;
  }
  return UserLimits{*memory, *cpu, *processes, *files};
}

bool apply_user_limits(const UserLimits& l) {
  // No core files: a program stopped by a limit would leave one as large
  // as the limit in the user's home, and a mailbox stage's could hold mail.
  struct rlimit none {0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) return false;
  return set_memory(l.memory) && set(RLIMIT_CPU, l.cpu, cpu_grace) && set(RLIMIT_NPROC, l.processes, 0) &&
         set(RLIMIT_NOFILE, l.files, 0);
}

}  // namespace postern
