// rebuild_recipients: see rebuild_recipients.hpp.
#include "mail/rebuild_recipients.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>

#include "mail/conf.hpp"
#include "mail/status.hpp"

extern char** environ;

namespace postern {

int rebuild_recipients() {
  std::string path = conf::path("bin/newrcpt");
  char* argv[] = {path.data(), nullptr};
  pid_t pid;
  if (::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ) != 0) return status::temporary;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return status::temporary;
  return WIFEXITED(st) ? WEXITSTATUS(st) : status::temporary;
}

}  // namespace postern
