// queue_client: see queue_client.hpp.
#include "mail/queue_client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail/conf.hpp"
#include "mail/queue_exit.hpp"

namespace postern {

QueueClient::QueueClient() {
  int m[2], e[2], q[2];
  if (::pipe2(m, O_CLOEXEC) != 0) return;
  if (::pipe2(e, O_CLOEXEC) != 0) {
    ::close(m[0]);
    ::close(m[1]);
    return;
  }
  if (::pipe2(q, O_CLOEXEC) != 0) {
    for (int fd : {m[0], m[1], e[0], e[1]}) ::close(fd);
    return;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // A caller that ignores SIGCHLD (inherited through exec, as from swaks)
  // would lose queue's exit code to the kernel's automatic reaping.
  ::signal(SIGCHLD, SIG_DFL);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(m[0], 0) < 0 || ::dup2(e[0], 1) < 0 || ::dup2(q[1], 3) < 0) ::_exit(queue_exit::internal);
    std::string prog = conf::path("bin/queue");
    char* argv[] = {const_cast<char*>("queue"), nullptr};
    ::execv(prog.c_str(), argv);
    ::_exit(queue_exit::internal);
  }
  ::close(m[0]);
  ::close(e[0]);
  ::close(q[1]);
  message_.reset(m[1]);
  envelope_.reset(e[1]);
  id_.reset(q[0]);
  if (pid < 0) return;
  pid_ = pid;
}

QueueClient::~QueueClient() {
  if (pid_ > 0) {
    message_.reset();
    envelope_.reset();
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

bool QueueClient::write(std::string_view bytes) {
  return message_.ok() && write_all(message_.get(), bytes);
}

int QueueClient::finish(const Envelope& envelope) {
  if (pid_ <= 0) return queue_exit::internal;
  message_.reset();
  write_all(envelope_.get(), encode_envelope(envelope));
  envelope_.reset();
  int st = 0;
  pid_t pid = pid_;
  pid_ = -1;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return queue_exit::internal;
  }
  if (!WIFEXITED(st)) return queue_exit::internal;
  if (WEXITSTATUS(st) == queue_exit::queued) {
    // queue has exited: the pipe holds the whole id, or nothing.
    char buf[32];
    ssize_t n = ::read(id_.get(), buf, sizeof buf);
    if (n > 1 && buf[n - 1] == '\n') queue_id_.assign(buf, static_cast<std::size_t>(n - 1));
  }
  return WEXITSTATUS(st);
}

bool queue_failure_is_permanent(int code) { return queue_exit::is_permanent(code); }

std::string queue_failure_text(int code) {
  using namespace queue_exit;
  switch (code) {
    case queued: return "queued";
    case address_too_long: return "address too long";
    case out_of_memory: return "out of memory";
    case timeout: return "timeout";
    case write_error: return "write error or disk full";
    case read_error: return "unable to read the message or envelope";
    case config_error: return "unable to read a configuration file";
    case home_dir: case queue_dir: case pid_dir: case mess_dir: case intd_dir: case todo_dir:
      return "trouble in the queue directory";
    case envelope_format: return "envelope format error";
    default: return "queue failed with exit code " + std::to_string(code);
  }
}

}  // namespace postern
