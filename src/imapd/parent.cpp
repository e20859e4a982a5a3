// imapd's privileged parent, pop3d's parent with the login tag added. It never reads the network: it holds the
// client's descriptors only to hand them to checkpassword. From the
// pre-auth stage it takes one packet at a time, at most 1100 bytes, which
// must be a well-formed checkpassword request (three NUL-terminated
// fields within their bounds); anything else ends the connection. It runs
// checkpassword with the request on descriptor 3, waits for it (and for
// the mailbox stage it becomes), and answers one byte. A failed login is
// logged with the client's address and answered only after a delay; after
// max_failures the pre-auth stage is told to give up.
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <csignal>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "imap_parse.hpp"
#include "io.hpp"
#include "log.hpp"
#include "pop3.hpp"
#include "imapd.hpp"
#include "secret.hpp"

using namespace postern;

namespace imapd {

namespace {

constexpr int max_failures = 5;
constexpr unsigned failure_delay = 2;  // seconds

std::string client() {
  const char* ip = std::getenv("TCPREMOTEIP");
  return ip ? log::printable(ip, 64) : std::string("unknown");
}

// The environment checkpassword gets: what tcpserver said about the
// connection, and a fixed PATH; nothing else from ours.
std::vector<std::string> clean_env(const std::string& tag) {
  std::vector<std::string> env{"PATH=/usr/local/bin:/usr/bin:/bin", "IMAPLOGINTAG=" + tag};
  for (const char* name : {"TCPREMOTEIP", "TCPREMOTEHOST", "TCPREMOTEPORT", "TCPREMOTEINFO", "TCPLOCALIP",
                           "TCPLOCALHOST", "TCPLOCALPORT", "PROTO"}) {
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  return env;
}

// Runs the checkpassword chain and returns its wait status (-1: it could
// not be started).
int run_checkpassword(const Config& cfg, const std::string& tag, const std::string& request) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  // The request fits in the pipe's buffer: write it all before the fork.
  if (!write_all(p[1], request)) {
    ::close(p[0]);
    ::close(p[1]);
    return -1;
  }
  ::close(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    return -1;
  }
  if (pid == 0) {
    if (::dup2(p[0], 3) < 0) std::_Exit(111);  // dup2 clears close-on-exec
    std::vector<std::string> env = clean_env(tag);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{cfg.checkpassword, cfg.mailbox, cfg.maildir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    log::line("cannot run {}: {}", cfg.checkpassword, std::strerror(errno));
    std::_Exit(111);
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

[[noreturn]] void finish(int child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::_Exit(WIFEXITED(status) ? WEXITSTATUS(status) : 111);
}

void answer(int fd, char c) {
  while (::send(fd, &c, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

}  // namespace

void parent(const Config& cfg, int fd, int child) {
  int failures = 0;
  for (;;) {
    secret::String packet;
    packet.get().resize(1100);
    ssize_t n = ::recv(fd, packet.get().data(), packet.get().size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) finish(child);
    if (static_cast<std::size_t>(n) > packet.get().size()) {
      log::line("client {}: oversized request from the pre-auth stage; ending", client());
      ::kill(child, SIGKILL);
      finish(child);
    }
    packet.get().resize(static_cast<std::size_t>(n));
    // "tag\n" then the checkpassword request.
    std::size_t nl = packet.get().find('\n');
    std::string tag = nl == std::string::npos ? std::string() : packet.get().substr(0, nl);
    auto tag_ok = !tag.empty() && tag.size() <= 64 && imap::tag_of(tag + " x").has_value();
    std::string_view rest = tag_ok ? std::string_view(packet.get()).substr(nl + 1) : std::string_view();
    auto req = pop3::decode_request(rest);
    if (!tag_ok || !req || rest.size() != req->user.size() + req->password.size() + req->timestamp.size() + 3 ||
        !req->timestamp.empty()) {
      log::line("client {}: malformed request from the pre-auth stage; ending", client());
      ::kill(child, SIGKILL);
      finish(child);
    }
    int status = run_checkpassword(cfg, tag, std::string(rest));
    std::string user = log::printable(req->user, 64);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      answer(fd, reply_done);
      finish(child);
    }
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
      ++failures;
      log::line("login failed for {} from {} (failure {})", user, client(), failures);
      ::sleep(failure_delay);
      answer(fd, failures >= max_failures ? reply_too_many : reply_refused);
      if (failures >= max_failures) finish(child);
      continue;
    }
    if (status >= 0 && WIFSIGNALED(status)) {
      log::line("{} from {}: the session ended with signal {}", user, client(), WTERMSIG(status));
      answer(fd, reply_done);
      finish(child);
    }
    log::line("login of {} from {}: temporary failure (checkpassword exit {})", user, client(),
              status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    answer(fd, reply_temp);
  }
}

}  // namespace imapd
