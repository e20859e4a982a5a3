// Unit tests for src/lib/mail/user_limits: the limits land on the process
// (in a child, so the test runner keeps its own), CPU gets its grace, and
// a limit above the hard one is clamped instead of failing.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail/user_limits.hpp"

using namespace postern;

namespace {

// Runs check in a child after applying limits; true when it held.
bool in_child(const UserLimits& limits, bool (*check)()) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(apply_user_limits(limits) && check() ? 0 : 1);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// A sanitizer build sets no data limit (user_limits.cpp says why).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool data_limited = false;
#else
constexpr bool data_limited = true;
#endif

}  // namespace

TEST_CASE("user limits are set soft and hard", "[user_limits]") {
  UserLimits l;
  l.memory = 100u << 20;
  l.cpu = 7;
  l.files = 64;
  CHECK(in_child(l, [] {
    struct rlimit data {}, cpu {}, files {};
    ::getrlimit(RLIMIT_DATA, &data);
    ::getrlimit(RLIMIT_CPU, &cpu);
    ::getrlimit(RLIMIT_NOFILE, &files);
    bool data_ok = !data_limited || (data.rlim_cur == (100u << 20) && data.rlim_max == (100u << 20));
    return data_ok && cpu.rlim_cur == 7 &&
           cpu.rlim_max == 12 && files.rlim_cur == 64 && files.rlim_max == 64;
  }));
}

TEST_CASE("a limit above the hard one is clamped; 0 leaves it", "[user_limits]") {
  UserLimits first;
  first.files = 50;
  // After the hard limit is 50, asking for 500 gives 50 (not a failure).
  CHECK(in_child(first, [] {
    UserLimits more;
    more.files = 500;
    struct rlimit files {};
    return apply_user_limits(more) && ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur == 50;
  }));
  UserLimits none;
  struct rlimit before {};
  ::getrlimit(RLIMIT_DATA, &before);
  CHECK(apply_user_limits(none));
  struct rlimit after {};
  ::getrlimit(RLIMIT_DATA, &after);
  CHECK(after.rlim_cur == before.rlim_cur);
}

TEST_CASE("defaults per service", "[user_limits]") {
  CHECK(default_user_limits("local").cpu == 300);
  CHECK(default_user_limits("imapd").cpu == 3600);
  CHECK(default_user_limits("pop3d").memory == 512ul << 20);
}
