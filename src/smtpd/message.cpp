// message: one transaction's message on its way into the queue. queue is
// started when the text begins and gets smtpd's Received: line, then the
// text with LF line ends as it arrives, so a big message never sits in
// memory. When the text has a problem (bare LF, lone CR, a NUL, too big,
// a loop) the rest is read and dropped and queue is stopped without an
// envelope, so it removes what it wrote: nothing is queued. For
// submission (complete()) the header is held (bounded by message_rules'
// max_header) until it ends, so that its From: is checked and a Date: and
// Message-ID: added before any of it is queued.
#include <ctime>

#include "base/log.hpp"
#include "mail/completion.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

Incoming::Incoming(const smtp::Limits& limits, std::string id, const std::string& received, Origin origin,
                   const Peer& peer)
    : text_(limits), id_(std::move(id)) {
  queue_ = std::make_unique<QueueClient>(origin, &peer);
  if (!queue_->ok() || !queue_->write(received)) write_failed_ = true;
}

bool Incoming::to_queue(const std::string& text) {
  // A Message-ID: past the first 64 KB of header is not worth holding more.
  if (!head_done_ && head_.size() < 65536 && !text.empty()) {
    std::size_t from = head_.empty() ? 0 : head_.size() - 1;
    head_.append(text, 0, 65536);
    head_done_ = head_.front() == '\n' || head_.find("\n\n", from) != std::string::npos;
  }
  return queue_->write(text);
}

std::string Incoming::message_id() const {
  if (head_.empty() || head_.front() == '\n') return {};
  auto end = head_.find("\n\n");
  auto fields = header::parse(std::string_view(head_).substr(0, end == std::string::npos ? head_.size() : end + 1));
  auto* f = header::find(fields, "Message-ID");
  return f ? header::unfold(f->value) : std::string();
}

void Incoming::feed(std::string_view text) {
  text_.feed(text);
  drain();
}

void Incoming::complete(const SenderLogins& senders, std::string login, std::string host) {
  senders_ = &senders;
  login_ = std::move(login);
  host_ = std::move(host);
  holding_ = true;
}

void Incoming::drain() { pass(text_.take()); }

void Incoming::pass(std::string ready) {
  if (holding_) {
    // Byte by byte while in the header, to know where its last line ends.
    std::size_t i = 0;
    while (i < ready.size() && header_end_.in_header()) header_end_.feed(std::string_view(ready).substr(i++, 1));
    if (header_end_.in_header()) {
      header_ += ready;
      return;
    }
    // The byte that ended the header is in the line that is not the
    // header's: a blank line or the body's first. That line goes after.
    std::string all = std::move(header_);
    all.append(ready, 0, i);
    std::size_t cut = all.size() >= 2 ? all.rfind('\n', all.size() - 2) : std::string::npos;
    cut = cut == std::string::npos ? 0 : cut + 1;
    header_ = all.substr(0, cut);
    std::string rest = all.substr(cut) + ready.substr(i);
    end_header();
    ready = std::move(rest);
  }
  if (ready.empty() || write_failed_) return;
  if (!to_queue(ready)) write_failed_ = true;
}

void Incoming::end_header() {
  holding_ = false;
  auto fields = header::parse(header_);
  for (auto* from : header::find_all(fields, "From")) {
    header::for_each_mailbox(from->value, [&](const header::Mailbox& m) {
      if (m.address.empty() || senders_->owns(login_, m.address)) return true;
      refusal_ = m.address;
      return false;
    });
    if (!refusal_.empty()) break;
  }
  std::string added;
  for (auto& f : completion::missing_date_and_id(fields, host_, std::time(nullptr))) added += f.text();
  std::string out = std::move(header_) + added;
  header_.clear();
  if (!refusal_.empty() || write_failed_) return;
  if (!to_queue(out)) write_failed_ = true;
}

std::string Incoming::finish(const Envelope& envelope) {
  text_.finish();
  drain();
  if (holding_) {
    // The text ended inside the header, perhaps inside a line: as if that
    // line had its LF (inject's rule), it is either a field or the body.
    std::string tail;
    if (!header_.empty() && header_.back() != '\n') {
      message_rules::Checker probe = header_end_;
      probe.feed("\n");
      if (probe.in_header()) {
        header_ += '\n';
      } else {
        std::size_t cut = header_.rfind('\n');
        cut = cut == std::string::npos ? 0 : cut + 1;
        tail = header_.substr(cut);
        header_.resize(cut);
      }
    }
    end_header();
    if (!tail.empty() && refusal_.empty() && !write_failed_ && !to_queue(tail)) write_failed_ = true;
  }
  auto problem = text_.problem();
  if (problem != smtp::Problem::none) {
    queue_.reset();  // no envelope: queue removes the message
    why_ = smtp::problem_text(problem);
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
  if (!refusal_.empty()) {
    queue_.reset();
    why_ = "From: <" + refusal_ + "> is not an address of " + login_;
    return "553 5.7.1 message refused: From: <" + log::printable(refusal_, 200) + "> is not yours to send as";
  }
  if (write_failed_) {
    queue_.reset();  // queue stopped reading: it failed, and queued nothing
    why_ = "the queue failed: unable to write the message";
    return "451 4.3.0 the queue failed; try again later";
  }
  int code = queue_->finish(envelope);
  queued_as_ = queue_->queue_id();
  std::string refusal = queue_->refusal();
  queue_.reset();
  if (code == queue_exit::queued) return "250 2.0.0 ok " + id_ + (queued_as_.empty() ? "" : " msg " + queued_as_);
  if (!refusal.empty()) {
    // authcheck's verdict (SPF, DKIM, DMARC), in its own words.
    why_ = "refused by the checks: " + refusal;
    return refusal;
  }
  if (queue_failure_is_permanent(code)) return "554 5.3.0 the queue refused the message: " + queue_failure_text(code);
  return "451 4.3.0 the queue failed: " + queue_failure_text(code) + "; try again later";
}

}  // namespace postern::smtpd
