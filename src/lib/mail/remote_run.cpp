// remote_run: fork, exec conf-home/bin/remote with a clean environment and
// the message on fd 0, read its lines from a pipe, wait for it
// (remote_run.hpp).
#include "mail/remote_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/io.hpp"
#include "base/strings.hpp"
#include "mail/conf.hpp"
#include "mail/status.hpp"

namespace postern {

std::vector<RemoteResult> run_remote(int message, const std::string& domain, const std::string& sender,
                                     const std::vector<std::string>& recipients) {
  std::vector<RemoteResult> out;
  auto all = [&](const std::string& why) {
    out.assign(recipients.size(), RemoteResult{status::deferred, why});
    return out;
  };
  std::vector<std::string> args = {conf::path("bin/remote"), domain, sender};
  args.insert(args.end(), recipients.begin(), recipients.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return all("unable to create a pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return all("unable to fork");
  }
  if (pid == 0) {
    if (::dup2(message, 0) < 0 || ::dup2(p[1], 1) < 0) ::_exit(status::temporary);
    ::signal(SIGPIPE, SIG_DFL);
    char* env[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    ::execve(argv[0], argv.data(), env);
    ::_exit(status::temporary);
  }
  ::close(p[1]);
  LineReader lines(p[0], 2000);
  std::string line;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    auto r = lines.next(line);
    std::string_view l = chomp(line);
    if (r != LineReader::Result::line || l.size() < 2 || std::string_view("KZD").find(l[0]) == std::string_view::npos)
      out.push_back({status::deferred, "remote ended without a result"});
    else
      out.push_back({l[0], std::string(l.substr(2))});
  }
  ::close(p[0]);
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace postern
