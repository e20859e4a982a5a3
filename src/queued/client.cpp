// client: see client.hpp.
#include "client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/unique.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_wire.hpp"
#include "mail/queue_write.hpp"

namespace postern::queued {

namespace {

namespace wire = queue_wire;

std::atomic<unsigned long> serial {0};

bool send_frame(int fd, const std::string& frame) {
  std::size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// What a message being written leaves on disk, removed unless committed.
// Removed before a failure is answered, so the client never sees them.
struct Files {
  std::string pid_path, mess_path, envelope_path;
  void remove() {
    for (auto* p : {&pid_path, &mess_path, &envelope_path})
      if (!p->empty()) ::unlink(p->c_str());
    pid_path.clear();
    mess_path.clear();
    envelope_path.clear();
  }
  ~Files() { remove(); }
};

enum class Read { frame, eof, timeout, bad };

class Reader {
 public:
  // timeout_ms bounds each silence; deadline the whole connection (as
  // queue's alarm does: clean sweeps a message file without an envelope
  // after 36 hours, so no client may take a day to finish one).
  Reader(int fd, int timeout_ms, std::time_t deadline) : fd_(fd), timeout_ms_(timeout_ms), deadline_(deadline) {}
  Read next(wire::Frame& f) {
    for (;;) {
      switch (decoder_.next(f)) {
        case wire::Decoder::Result::frame: return Read::frame;
        case wire::Decoder::Result::bad: return Read::bad;
        case wire::Decoder::Result::more: break;
      }
      std::time_t left = deadline_ - std::time(nullptr);
      if (left <= 0) return Read::timeout;
      pollfd p {fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(timeout_ms_, left * 1000LL)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return Read::timeout;
      char buf[wire::max_chunk];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Read::eof;
      decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }
  const std::string& error() const { return decoder_.error(); }

 private:
  int fd_;
  int timeout_ms_;
  std::time_t deadline_;
  wire::Decoder decoder_;
};

}  // namespace

void serve(int fd_in, pid_t pid, uid_t uid, Shared& shared) {
  Fd fd(fd_in);
  if (!send_frame(fd.get(), wire::encode(wire::Type::ready))) return;
  const std::string who = "uid " + std::to_string(uid) + " pid " + std::to_string(pid);

  Files files;
  std::time_t now = std::time(nullptr);
  std::string id;
  Fd mess;
  // A failure before the end is answered after the end (the peer is
  // still sending); until then what comes is read and dropped.
  int code = queue_write::create_message(
      "w" + std::to_string(::getpid()) + "." + std::to_string(serial++) + "." + random_hex(4), mess, id,
      files.pid_path, files.mess_path);
  std::string why = code == queue_exit::pid_dir ? "cannot create a file in queue/pid" : "cannot link into queue/mess";
  if (code == 0 && !write_all(mess.get(), queue_write::received_line(pid, uid, now))) {
    code = queue_exit::write_error;
    why = "unable to write the message (disk full?)";
  }

  std::string envelope_bytes;
  Reader reader(fd.get(), shared.timeout_ms, now + 86400);
  // This client's share of the envelope budget, given back however it ends.
  struct Held {
    std::atomic<std::size_t>& total;
    std::size_t mine = 0;
    ~Held() { total -= mine; }
  } held {shared.envelope_bytes};
  for (bool end = false; !end;) {
    wire::Frame f;
    switch (reader.next(f)) {
      case Read::frame: break;
      case Read::eof:
        log::line("client {} went away before the end of its message; nothing queued", who);
        return;
      case Read::timeout:
        log::line("client {} was silent too long; nothing queued", who);
        files.remove();
        send_frame(fd.get(), wire::encode_failure(queue_exit::timeout, "timeout"));
        return;
      case Read::bad:
        log::line("client {} broke the protocol ({}); nothing queued", who, reader.error());
        files.remove();
        send_frame(fd.get(), wire::encode_failure(queue_exit::read_error, "protocol error"));
        return;
    }
    switch (f.type) {
      case wire::Type::message:
        if (!envelope_bytes.empty()) {
          log::line("client {} sent message text after the envelope; nothing queued", who);
          files.remove();
          send_frame(fd.get(), wire::encode_failure(queue_exit::read_error, "protocol error"));
          return;
        }
        if (code == 0 && !write_all(mess.get(), f.payload)) {
          code = queue_exit::write_error;
          why = "unable to write the message (disk full?)";
        }
        break;
      case wire::Type::envelope:
        if (envelope_bytes.size() + f.payload.size() > queue_write::max_envelope) {
          log::line("client {} sent an envelope over {} bytes; nothing queued", who, queue_write::max_envelope);
          files.remove();
          send_frame(fd.get(), wire::encode_failure(queue_exit::read_error, "envelope too long"));
          return;
        }
        if (shared.envelope_bytes.fetch_add(f.payload.size()) + f.payload.size() > Shared::envelope_budget) {
          shared.envelope_bytes -= f.payload.size();
          log::line("client {}: the envelopes in progress hold {} bytes already; nothing queued", who,
                    Shared::envelope_budget);
          files.remove();
          send_frame(fd.get(), wire::encode_failure(queue_exit::out_of_memory, "too many large envelopes at once"));
          return;
        }
        held.mine += f.payload.size();
        envelope_bytes += f.payload;
        break;
      case wire::Type::end: end = true; break;
      default:
        log::line("client {} sent an unexpected frame; nothing queued", who);
        files.remove();
        send_frame(fd.get(), wire::encode_failure(queue_exit::read_error, "protocol error"));
        return;
    }
  }

  // The envelope is written before any file is synced, so that the syncs
  // below can run side by side.
  Envelope envelope;
  if (code == 0) {
    code = queue_write::check_envelope(envelope_bytes, envelope);
    why = code == queue_exit::address_too_long ? "address too long" : "malformed envelope";
  }
  envelope_bytes = std::string();
  Fd envelope_fd;
  if (code == 0) {
    code = queue_write::write_envelope_unsynced(id, envelope, files.envelope_path, envelope_fd);
    why = code == queue_exit::pid_dir ? "cannot create the envelope in queue/pid"
                                      : "unable to write the envelope (disk full?)";
  }
  // The message, its envelope and its entry in mess/ are synced at once
  // (overlap.hpp); the envelope is linked into todo/ only when all three
  // are durable: a file in todo/ always names a complete message.
  if (code == 0) {
    bool mess_ok = false, envelope_ok = false, mess_dir_ok = false;
    shared.overlap.all({[&] { return mess_ok = ::fsync(mess.get()) == 0; },
                        [&] { return envelope_ok = ::fsync(envelope_fd.get()) == 0; },
                        [&] { return mess_dir_ok = shared.mess.sync(); }});
    if (!mess_ok) {
      code = queue_exit::write_error;
      why = "unable to fsync the message (disk full?)";
    } else if (!envelope_ok) {
      code = queue_exit::write_error;
      why = "unable to fsync the envelope (disk full?)";
    } else if (!mess_dir_ok) {
      code = queue_exit::mess_dir;
      why = "cannot fsync queue/mess";
    }
  }
  mess.reset();
  envelope_fd.reset();
  if (code == 0) code = queue_write::link_todo(id, files.envelope_path, why);
  if (code != 0) {
    log::line("client {}: {}; nothing queued", who, why);
    files.remove();
    send_frame(fd.get(), wire::encode_failure(code, why));
    return;
  }
  // Committed: the message file now belongs to send and clean.
  files.mess_path.clear();
  ::unlink(files.envelope_path.c_str());
  files.envelope_path.clear();
  if (!shared.todo.sync()) {
    // As queue: the message is complete either way, so it stays, but the
    // sender must hear that it is not sure to be durable.
    log::line("client {}: cannot fsync queue/todo (msg {} left in the queue)", who, id);
    send_frame(fd.get(), wire::encode_failure(queue_exit::write_error, "cannot fsync queue/todo"));
    return;
  }
  send_frame(fd.get(), wire::encode(wire::Type::queued, id));
}

}  // namespace postern::queued
