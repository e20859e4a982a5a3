// message: one transaction's message on its way into the queue. queue is
// started when the text begins and gets smtpd's Received: line, then the
// text with LF line ends as it arrives, so a big message never sits in
// memory. When the text has a problem (bare LF, lone CR, a NUL, too big,
// a loop) the rest is read and dropped and queue is stopped without an
// envelope, so it removes what it wrote: nothing is queued.
#include "base/log.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

Incoming::Incoming(const smtp::Limits& limits, std::string id, const std::string& received)
    : text_(limits), id_(std::move(id)) {
  queue_ = std::make_unique<QueueClient>();
  if (!queue_->ok() || !queue_->write(received)) write_failed_ = true;
}

void Incoming::feed(std::string_view text) {
  text_.feed(text);
  drain();
}

void Incoming::drain() {
  std::string ready = text_.take();
  if (ready.empty() || write_failed_) return;
  if (!queue_->write(ready)) write_failed_ = true;
}

std::string Incoming::finish(const Envelope& envelope, const std::string& client) {
  const std::string& id = id_;
  text_.finish();
  drain();
  auto problem = text_.problem();
  if (problem != smtp::Problem::none) {
    queue_.reset();  // no envelope: queue removes the message
    log::line("refused message {} from {}: {}", id, client, smtp::problem_text(problem));
    switch (problem) {
      case smtp::Problem::bare_lf:
      case smtp::Problem::lone_cr:
        return "554 5.6.0 message refused: only CRLF may end a line; it holds a bare LF or a lone CR";
      case smtp::Problem::nul: return "554 5.6.0 message refused: it contains a NUL byte";
      case smtp::Problem::too_big: return "552 5.3.4 message refused: it is bigger than this server accepts";
      case smtp::Problem::header_too_big: return "552 5.3.4 message refused: its header is too big";
      case smtp::Problem::too_many_hops: return "554 5.4.6 message refused: too many hops, a mail loop";
      case smtp::Problem::none: break;
    }
  }
  if (write_failed_) {
    queue_.reset();  // queue stopped reading: it failed, and queued nothing
    log::line("queue failed for message {} from {}: unable to write the message", id, client);
    return "451 4.3.0 the queue failed; try again later";
  }
  int code = queue_->finish(envelope);
  std::string queued_as = queue_->queue_id();
  queue_.reset();
  if (code == queue_exit::queued) {
    log::line("accepted message {} from {} sender <{}> recipients {} bytes {} queued as msg {}", id, client,
              log::printable(envelope.sender), envelope.recipients.size(), text_.size(), queued_as);
    return "250 2.0.0 ok " + id + (queued_as.empty() ? "" : " msg " + queued_as);
  }
  log::line("queue failed for message {} from {}: {}", id, client, queue_failure_text(code));
  if (queue_failure_is_permanent(code)) return "554 5.3.0 the queue refused the message: " + queue_failure_text(code);
  return "451 4.3.0 the queue failed: " + queue_failure_text(code) + "; try again later";
}

}  // namespace postern::smtpd
