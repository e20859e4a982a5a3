// delivery_env: see delivery_env.hpp.
#include "mail/delivery_env.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "mail/conf.hpp"
#include "mail/status.hpp"

namespace postern::delivery_env {

std::string get(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

int deliver(const std::string& instructions, const std::string& sender) {
  std::string prog = conf::path("bin/local");
  std::vector<std::string> args = {prog, "-i", get("USER"), get("HOME"), get("LOCAL"), "", "", get("HOST"),
                                   sender, instructions};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (::lseek(0, 0, SEEK_SET) != 0 && errno != ESPIPE) return status::temporary;
  pid_t pid = ::fork();
  if (pid < 0) return status::temporary;
  if (pid == 0) {
    ::execv(prog.c_str(), argv.data());
    ::_exit(status::temporary);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return status::temporary;
  return WIFEXITED(st) ? WEXITSTATUS(st) : status::temporary;
}

}  // namespace postern::delivery_env
