// queue_wrapper: see queue_wrapper.hpp.
#include "mail/queue_wrapper.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_client.hpp"
#include "mail/queue_exit.hpp"
#include "mail/queue_write.hpp"

namespace postern::queue_wrapper {

Spool::Spool(const std::function<void(std::string_view)>& each) : file_(std::tmpfile()) {
  if (!file_) log::die(queue_exit::write_error, std::string("unable to make a temporary file: ") + std::strerror(errno));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) log::die(queue_exit::read_error, "unable to read the message");
    if (n == 0) break;
    std::string_view piece(buf, static_cast<std::size_t>(n));
    if (!head_complete_ && head_.size() < max_head) {
      std::size_t from = head_.empty() ? 0 : head_.size() - 1;
      head_.append(piece.substr(0, max_head - head_.size()));
      std::size_t end = head_.front() == '\n' ? 0 : head_.find("\n\n", from);
      if (end != std::string::npos) {
        head_.resize(end == 0 ? 1 : end + 2);
        head_complete_ = true;
      }
    }
    if (each) each(piece);
    if (std::fwrite(piece.data(), 1, piece.size(), file_) != piece.size())
      log::die(queue_exit::write_error, "unable to write the temporary file (disk full?)");
  }
  if (std::fflush(file_) != 0) log::die(queue_exit::write_error, "unable to write the temporary file (disk full?)");
}

Spool::~Spool() {
  if (file_) std::fclose(file_);
}

bool Spool::replay(std::size_t from, const std::function<bool(std::string_view)>& each) {
  if (std::fseek(file_, static_cast<long>(from), SEEK_SET) != 0) return false;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;)
    if (!each(std::string_view(buf, n))) return true;
  return !std::ferror(file_);
}

Envelope read_envelope() {
  auto bytes = read_all(1, queue_write::max_envelope);
  if (!bytes) log::die(queue_exit::read_error, "unable to read the envelope");
  Envelope envelope;
  int code = queue_write::check_envelope(*bytes, envelope);
  if (code != 0) log::die(code, "malformed envelope");
  return envelope;
}

int hand_on(const std::string& fields, Spool& spool, std::size_t from, const Envelope& envelope, bool report_id) {
  QueueClient queue;
  if (!queue.ok()) log::die(queue_exit::internal, "unable to reach the queue");
  bool written = queue.write(fields);
  if (!spool.replay(from, [&](std::string_view piece) { return written = written && queue.write(piece); }))
    log::die(queue_exit::write_error, "unable to read the temporary file");
  int code = queue.finish(envelope);
  if (code == queue_exit::queued && report_id && !queue.queue_id().empty()) write_all(3, queue.queue_id() + "\n");
  return code;
}

bool descriptor_3_open() { return ::fcntl(3, F_GETFD) >= 0; }

}  // namespace postern::queue_wrapper
