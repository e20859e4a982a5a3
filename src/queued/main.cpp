// queued: the queue writer. A long-running process under posternq that
// puts messages into the queue for queue_client (inject, sendmail, smtpd,
// send's bounces, local's forwards) over the unix socket queue/lock/queued
// (mail/queue_wire.hpp), so that no process starts per message and
// messages that arrive together share the fsyncs of queue/mess and
// queue/todo (group_sync), and one message's own fsyncs run side by side
// (overlap). The files and their order are queue's (mail/queue_write.hpp);
// queue stays for whatever runs it, and is what queue_client falls back
// to when queued is not there, refuses or is full.
//
// Started by start beside send, with the read end of a pipe whose write end
// send holds on descriptor 0: when send exits, queued stops accepting,
// finishes the clients it has and exits. Trusts nothing a client sends: the
// caller's uid and pid for the Received: line come from SO_PEERCRED. At most
// control/queuedclients (32) clients at once, each silent at most
// control/queuedtimeout (3600) seconds; one log line per refusal or error.
// Exits 111 when it cannot start.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "client.hpp"
#include "group_sync.hpp"
#include "overlap.hpp"
#include "pool.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_wire.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

void log_batch(const char* dir, std::size_t batch) {
  if (batch > 1) log::line("commit: {} messages shared one fsync of queue/{}", batch, dir);
}

// Binds beside the final name and renames over it, so a client never finds
// the name missing while a new queued replaces an old one.
Fd listen_socket() {
  const std::string path = queue_dirs::writer_socket();
  const std::string tmp = path + ".new";
  sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path || tmp.size() >= sizeof addr.sun_path)
    log::die(status::temporary, "the socket path " + path + " is too long");
  std::memcpy(addr.sun_path, tmp.c_str(), tmp.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) log::die(status::temporary, "unable to create a socket");
  ::unlink(tmp.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    log::die(status::temporary, "unable to bind " + tmp + ": " + std::strerror(errno));
  // Any local user may queue mail (as queue is setuid for anyone).
  if (::chmod(tmp.c_str(), 0666) != 0 || ::listen(fd.get(), 128) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0)
    log::die(status::temporary, "unable to set up " + path + ": " + std::strerror(errno));
  return fd;
}

void refuse(int fd, const std::string& why) {
  std::string frame = queue_wire::encode(queue_wire::Type::busy, why);
  [[maybe_unused]] auto n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
}

}  // namespace

int main() {
  log::set_program("queued");
  ::umask(027);
  // A hang-up of the terminal that ran rc reaches the whole process group;
  // only send acts on HUP.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  if (!conf::single_user && ::geteuid() == 0) log::die(status::temporary, "refusing to run as root");
  if (::chdir(queue_dirs::root().c_str()) != 0)
    log::die(status::temporary, "unable to chdir to the queue " + queue_dirs::root() + ": " + std::strerror(errno));
  // A second start run by mistake must not take the socket from the
  // running system (its send dies on send's lock, and its queued with it).
  // The queued of a system just stopped lets go when it stops listening,
  // which may take it a moment after its send has gone: wait 5 s for it.
  Fd lock_file(::open("lock/queued.lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
  for (int tries = 0; lock_file.ok() && ::flock(lock_file.get(), LOCK_EX | LOCK_NB) != 0 && tries < 50; ++tries)
    ::usleep(100000);
  if (!lock_file.ok() || ::flock(lock_file.get(), LOCK_EX | LOCK_NB) != 0)
    log::die(status::temporary, std::string("another queued holds queue/lock/queued.lock, or it cannot be locked: ") +
                                    std::strerror(errno));
  auto max_clients = control::number("queuedclients", 32);
  auto timeout = control::number("queuedtimeout", 3600);
  if (!max_clients || !timeout || *timeout == 0 || *timeout > 86400)
    log::die(status::temporary, "control/queuedclients or control/queuedtimeout is unreadable or out of range");

  queued::GroupSync mess_sync("mess", [](std::size_t n) { log_batch("mess", n); });
  queued::GroupSync todo_sync("todo", [](std::size_t n) {
    log_batch("todo", n);
    queue_dirs::poke_send();
  });
  // Two helpers a client: its envelope's fsync and its share of mess/'s.
  queued::Overlap overlap(2 * *max_clients);
  queued::Shared shared {mess_sync, todo_sync, overlap, static_cast<int>(*timeout * 1000)};

  queued::Pool pool(*max_clients, [&shared](int fd, const ucred& peer) {
    // An exception ends this client only: its files go with the
    // unwinding (serve's cleanup is in destructors), the others go on.
    try {
      queued::serve(fd, peer.pid, peer.uid, shared);
    } catch (const std::exception& e) {
      log::line("client uid {} pid {}: {}; nothing queued", peer.uid, peer.pid, e.what());
    }
  });
  Fd listener = listen_socket();
  log::line("status: listening, at most {} clients", *max_clients);
  for (;;) {
    pollfd p[2] = {{listener.get(), POLLIN, 0}, {0, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::die(status::temporary, "poll failed");
    }
    if (p[1].revents) {
      char c;
      ssize_t n = ::read(0, &c, 1);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors or memory: the connection stays in the backlog
      // and poll says so at once; wait instead of spinning.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log::line("unable to accept a client: {}", std::strerror(errno));
        ::usleep(200000);
      }
      continue;
    }
    ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log::line("refused a client: no peer credentials");
      refuse(fd, "no peer credentials");
      continue;
    }
    switch (pool.offer(fd, cred)) {
      case queued::Pool::Offer::taken: break;
      case queued::Pool::Offer::full:
        log::line("refused uid {} pid {}: {} clients already (control/queuedclients)", cred.uid, cred.pid,
                  *max_clients);
        refuse(fd, "busy");
        break;
      case queued::Pool::Offer::no_thread:
        log::line("refused uid {} pid {}: unable to start a thread", cred.uid, cred.pid);
        refuse(fd, "unable to start a thread");
        break;
    }
  }
  // send has gone: new clients go to bin/queue; those here are finished.
  listener.reset();
  lock_file.reset();  // the next system's queued may take over now
  pool.drain();
  log::line("status: stopped");
  return 0;
}
