// queue: puts one message into the queue (qmail-queue's interface).
//
// Reads the message on fd 0 and the envelope on fd 1 (F sender NUL, T
// recipient NUL ..., NUL), writes both into conf-home/queue, and exits 0
// only when both are durable: file data fsync'ed and the directory entries
// that name them fsync'ed too. Then it pokes send through the trigger fifo.
//
// Trusts nothing from its caller: it is setuid posternq in a multi-user
// install and any local user may run it. It takes no path and no setting
// from the environment or the arguments. In a multi-user install it
// refuses to run with root as its effective user (the setuid bit is
// missing, or it was copied without it): the queue must stay posternq's.
// Exit codes are qmail-queue's (mail/queue_exit.hpp): 0 queued; 11 address
// too long (permanent); 52 timeout; 53 write error or disk full; 54 unable
// to read message or envelope; 62 queue directory missing; 63/64/66
// trouble in queue/pid, queue/mess or queue/todo; 81 internal error; 91
// malformed envelope (permanent). Codes 11-40 and 91 are permanent.
// When the caller leaves descriptor 3 open, queue writes the new message's
// id and a newline there on success, so smtpd can name it in its reply.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_write.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "mail/conf.hpp"
#include "mail/queue_exit.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

std::string pid_file;  // removed on any failure
std::string mess_file;

[[noreturn]] void fail(int code, const char* why) {
  if (!pid_file.empty()) ::unlink(pid_file.c_str());
  if (!mess_file.empty()) ::unlink(mess_file.c_str());
  log::die(code, why);
}

// Only async-signal-safe calls here: unlink, write, _exit.
void on_alarm(int) {
  if (!pid_file.empty()) ::unlink(pid_file.c_str());
  if (!mess_file.empty()) ::unlink(mess_file.c_str());
  const char msg[] = "queue: fatal: timeout reading the message or envelope\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(queue_exit::timeout);
}

// Copies the message on fd 0 to out.
void copy_message(int out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(queue_exit::read_error, "unable to read the message");
    }
    if (n == 0) return;
    if (!write_all(out, std::string_view(buf, static_cast<std::size_t>(n))))
      fail(queue_exit::write_error, "unable to write the message (disk full?)");
  }
}

}  // namespace

int main() {
  log::set_program("queue");
  // Checked before anything is opened, which could land on 3.
  bool report_id = ::fcntl(3, F_GETFD) >= 0;
  ::umask(027);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGALRM, on_alarm);
  ::alarm(86400);

  // Files root made here would be unreadable to send and clean: a setuid
  // bit lost in a copy must show as a refusal, not as stuck mail.
  if (!conf::single_user && ::geteuid() == 0) fail(queue_exit::home_dir, "refusing to run as root (is the setuid bit set?)");
  if (::chdir(queue_dirs::root().c_str()) != 0) fail(queue_exit::queue_dir, "cannot chdir to the queue");

  std::time_t now = std::time(nullptr);
  std::string id;
  Fd mess;
  int code = queue_write::create_message(std::to_string(::getpid()) + "." + std::to_string(now) + "." + random_hex(4),
                                         mess, id, pid_file, mess_file);
  if (code == queue_exit::pid_dir) fail(code, "cannot create a file in queue/pid");
  if (code != 0) fail(code, "cannot link into queue/mess");

  std::string received = queue_write::received_line(::getpid(), ::getuid(), now);
  if (!write_all(mess.get(), received)) fail(queue_exit::write_error, "unable to write the message (disk full?)");
  copy_message(mess.get());
  if (::fsync(mess.get()) != 0) fail(queue_exit::write_error, "unable to fsync the message (disk full?)");
  mess.reset();

  auto envelope_bytes = read_all(1, queue_write::max_envelope);
  if (!envelope_bytes) fail(queue_exit::read_error, "unable to read the envelope");
  Envelope envelope;
  code = queue_write::check_envelope(*envelope_bytes, envelope);
  if (code == queue_exit::address_too_long) fail(code, "address too long");
  if (code != 0) fail(code, "malformed envelope");
  // From here on the caller (who may signal a setuid program) must not be
  // able to make queue remove a message it has committed.
  ::alarm(0);
  ::signal(SIGALRM, SIG_IGN);

  // The envelope is written beside the message first and linked into todo/
  // only when durable and when mess/ is: a file in todo/ always names a
  // complete message.
  code = queue_write::write_envelope(id, envelope, pid_file);
  if (code == queue_exit::pid_dir) fail(code, "cannot create the envelope in queue/pid");
  if (code != 0) fail(code, "unable to write the envelope (disk full?)");
  if (!fsync_dir("mess")) fail(queue_exit::mess_dir, "cannot fsync queue/mess");
  std::string why;
  code = queue_write::link_todo(id, pid_file, why);
  if (code != 0) fail(code, why.c_str());
  // Committed: the message file now belongs to send and clean.
  mess_file.clear();
  ::unlink(pid_file.c_str());
  pid_file.clear();
  if (!fsync_dir("todo")) {
    // The link may or may not be durable; the message is complete either
    // way, so leaving it is safe, but the sender must hear of the failure.
    log::die(queue_exit::write_error, "cannot fsync queue/todo");
  }
  queue_dirs::poke_send();
  if (report_id) write_all(3, id + "\n");
  return 0;
}
