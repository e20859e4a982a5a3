// queue_client: see queue_client.hpp.
#include "mail/queue_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_wire.hpp"

namespace postern {

namespace {

namespace wire = queue_wire;

// How long queued may take to say ready (then bin/queue is run instead)
// and to reply after the end (its fsyncs; queue itself has no bound but
// its own day-long alarm).
constexpr int ready_ms = 10'000;
constexpr int reply_ms = 3'600'000;

// The next frame from fd within timeout_ms; false on end, error or a
// frame that does not decode.
bool read_frame(int fd, wire::Decoder& d, wire::Frame& f, int timeout_ms) {
  for (;;) {
    auto r = d.next(f);
    if (r == wire::Decoder::Result::frame) return true;
    if (r == wire::Decoder::Result::bad) return false;
    pollfd p {fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    d.feed(std::string_view(buf, static_cast<std::size_t>(got)));
  }
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Whether control/dkimkeys lists keys. An unreadable file counts as yes:
// dkimsign then says what is wrong, and the mail waits.
bool signing_configured() {
  auto lines = control::lines("dkimkeys");
  return !lines || !lines->empty();
}

// Whether control/authpolicy exists (empty: check, add the header, refuse
// nothing). Unreadable counts as yes: authcheck then says what is wrong.
bool checking_configured() {
  struct stat st {};
  return ::stat(conf::path("control/authpolicy").c_str(), &st) == 0 || errno != ENOENT;
}

}  // namespace

QueueClient::QueueClient(Origin origin, const Peer* peer) {
  if (origin == Origin::here && signing_configured()) {
    start_program("dkimsign");
    return;
  }
  if (origin == Origin::passed_on && peer && checking_configured()) {
    start_program("authcheck", {peer->ip, peer->helo});
    return;
  }
  if (!connect_writer()) start_program("queue");
}

bool QueueClient::connect_writer() {
  std::string path = queue_dirs::writer_socket();
  sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Non-blocking, so a full backlog is a refusal (EAGAIN), not a wait.
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.ok() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return false;
  wire::Decoder d;
  wire::Frame f;
  // Busy, silent or gone: bin/queue takes the message instead.
  if (!read_frame(fd.get(), d, f, ready_ms) || f.type != wire::Type::ready) return false;
  writer_ = std::move(fd);
  return true;
}

void QueueClient::start_program(const char* name, const std::vector<std::string>& args) {
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
    std::string prog = conf::path(std::string("bin/") + name);
    std::vector<char*> argv = {const_cast<char*>(name)};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(prog.c_str(), argv.data());
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
  // Closing the socket before the end frame makes queued remove what it
  // wrote, as queue does when its envelope never comes.
  writer_.reset();
  if (pid_ > 0) {
    message_.reset();
    envelope_.reset();
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

bool QueueClient::write(std::string_view bytes) {
  if (writer_.ok()) {
    // Callers write a line or a read's worth at a time: frames go out
    // max_chunk bytes at a time, not one system call a line.
    pending_.append(bytes);
    if (pending_.size() < wire::max_chunk) return true;
    std::string frames;
    std::string_view rest = pending_;
    while (rest.size() >= wire::max_chunk) {
      frames += wire::encode(wire::Type::message, rest.substr(0, wire::max_chunk));
      rest.remove_prefix(wire::max_chunk);
    }
    pending_.erase(0, pending_.size() - rest.size());
    return send_all(writer_.get(), frames);
  }
  return message_.ok() && write_all(message_.get(), bytes);
}

int QueueClient::finish_writer(const Envelope& envelope) {
  Fd fd = std::move(writer_);
  // What is left of the message, the envelope and the end go out in one
  // write. A send that fails may still leave queued's reply (an early
  // failure) to read, so the reply is read either way.
  std::string frames;
  if (!pending_.empty()) frames = wire::encode(wire::Type::message, pending_);
  pending_ = std::string();
  std::string bytes = encode_envelope(envelope);
  for (std::string_view rest = bytes; !rest.empty();) {
    auto piece = rest.substr(0, wire::max_chunk);
    frames += wire::encode(wire::Type::envelope, piece);
    rest.remove_prefix(piece.size());
  }
  frames += wire::encode(wire::Type::end);
  send_all(fd.get(), frames);
  wire::Decoder d;
  wire::Frame f;
  if (!read_frame(fd.get(), d, f, reply_ms)) return queue_exit::internal;
  if (f.type == wire::Type::queued) {
    if (queue_dirs::valid_id(f.payload)) queue_id_ = f.payload;
    return queue_exit::queued;
  }
  int code = 0;
  std::string text;
  if (f.type == wire::Type::failed && wire::decode_failure(f.payload, code, text)) return code;
  return queue_exit::internal;
}

int QueueClient::finish(const Envelope& envelope) {
  if (writer_.ok()) return finish_writer(envelope);
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
  int code = WEXITSTATUS(st);
  if (code == queue_exit::queued) {
    // queue has exited: the pipe holds the whole id, or nothing.
    char buf[32];
    ssize_t n = ::read(id_.get(), buf, sizeof buf);
    if (n > 1 && buf[n - 1] == '\n') queue_id_.assign(buf, static_cast<std::size_t>(n - 1));
  } else if (code == queue_exit::refused || code == queue_exit::temp_refused) {
    // One line: a reply code of the right class, then printable text.
    char buf[512];
    ssize_t n = ::read(id_.get(), buf, sizeof buf);
    std::string line = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    if (!line.empty() && line.back() == '\n') line.pop_back();
    bool ok = line.size() >= 4 && line[0] == (code == queue_exit::refused ? '5' : '4') &&
              std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2])) &&
              line[3] == ' ';
    for (unsigned char c : line) ok = ok && c >= 32 && c < 127;
    if (ok) refusal_ = line;
  }
  return code;
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
