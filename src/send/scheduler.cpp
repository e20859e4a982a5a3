// scheduler: see scheduler.hpp.
#include "scheduler.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bounce.hpp"
#include "log_lines.hpp"
#include "mail/address.hpp"
#include "mail/envelope.hpp"
#include "base/log.hpp"
#include "mail/queue_client.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/spawn_protocol.hpp"
#include "mail/status.hpp"
#include "base/strings.hpp"
#include "plan.hpp"

namespace postern::send {

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    log::line("unable to read {}: {}", dir, std::strerror(errno));
    return out;
  }
  while (auto* e = ::readdir(d)) out.emplace_back(e->d_name);
  ::closedir(d);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// When queue linked the envelope, with fractions (arrived, in whole
// seconds, is what the record keeps).
double queued_at(const std::string& id, std::time_t arrived) {
  struct stat st {};
  if (::stat(queue_dirs::todo(id).c_str(), &st) != 0 || st.st_mtime != arrived) return static_cast<double>(arrived);
  return static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
}

}  // namespace

Scheduler::Scheduler(Controls controls, Channel* local, Channel* remote, int clean_to, int clean_from)
    : controls_(std::move(controls)), local_(local), remote_(remote), clean_to_(clean_to), clean_from_(clean_from) {}

void Scheduler::recover() {
  // A record is removed before clean removes the envelope, so a record with
  // no envelope is the remnant of a crash in a save, or of a power cut that
  // kept clean's removal but not send's; it names a finished message (ids
  // are never reused). The message file, if any, is clean's to sweep.
  for (auto& name : list_dir(queue_dirs::state_dir())) {
    if (name == "." || name == "..") continue;
    if (queue_dirs::valid_id(name) && exists(queue_dirs::todo(name))) continue;
    ::unlink(queue_dirs::state(name).c_str());
  }
}

void Scheduler::scan_todo() {
  for (auto& name : list_dir(queue_dirs::todo_dir())) {
    if (!queue_dirs::valid_id(name) || messages_.count(name)) continue;
    load(name);
  }
}

bool Scheduler::load(const std::string& id) {
  Message m;
  m.id = id;
  // Checked before the record is trusted: a record and an envelope that
  // outlived their message (a power cut can undo clean's removal of todo/
  // and state/ but keep that of mess/) would otherwise be tried for ever,
  // every delivery and bounce failing to open the file.
  if (!message_present(id)) return false;
  if (auto text = read_file(queue_dirs::state(id), 64 << 20)) {
    if (auto st = decode_state(*text)) {
      m.state = std::move(*st);
      m.busy.assign(m.state.recipients.size(), false);
      // A delete that found deliveries in flight, then a crash: nothing is
      // in flight now, so what they left pending goes as it would have.
      if (!m.state.deleted_by.empty())
        for (auto& r : m.state.recipients)
          if (r.state == 'P' || r.state == 'B') {
            r.state = 'X';
            r.reason = "deleted by " + m.state.deleted_by;
          }
      m.queued_at = queued_at(id, m.state.arrived);
      add(id, std::move(m));
      return true;
    }
    log::line("{} rebuilding its damaged record from its envelope", log::kv("msg", id));
  }
  struct stat st {};
  auto bytes = read_file(queue_dirs::todo(id), 64 << 20);
  auto envelope = bytes ? decode_envelope(*bytes) : std::nullopt;
  if (!envelope) {
    log::line("{} unable to read its envelope; will try again", log::kv("msg", id));
    return false;
  }
  m.state.arrived = ::stat(queue_dirs::todo(id).c_str(), &st) == 0 ? st.st_mtime : std::time(nullptr);
  m.queued_at = queued_at(id, m.state.arrived);
  m.state.sender = envelope->sender;
  // Held at birth (authcheck's quarantine): a decision, saved durably.
  m.state.held_by = envelope->hold;
  for (auto& rcpt : envelope->recipients) {
    Route route = classify(controls_, rcpt);
    RecipientState r;
    r.address = route.address;
    r.channel = route.channel;
    r.next_try = m.state.arrived;
    m.state.recipients.push_back(std::move(r));
  }
  m.busy.assign(m.state.recipients.size(), false);
  long size = ::stat(queue_dirs::mess(id).c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
  log::line("{}", log_lines::new_message(id, envelope->sender, size, envelope->recipients.size()));
  save(add(id, std::move(m)));
  return true;
}

Scheduler::Message& Scheduler::add(const std::string& id, Message m) {
  for (auto& r : m.state.recipients) {
    m.on_local |= r.channel == 'L';
    m.on_remote |= r.channel != 'L';
    if (r.state == 'P') wake_at(r.next_try);
  }
  local_holders_ += m.on_local;
  remote_holders_ += m.on_remote;
  unsettled_.insert(id);  // a record may say it is finished, or owes a bounce
  return messages_.emplace(id, std::move(m)).first->second;
}

bool Scheduler::message_present(const std::string& id) {
  struct stat st {};
  if (::stat(queue_dirs::mess(id).c_str(), &st) == 0 || errno != ENOENT) return true;
  // queue makes the message file durable before it links the envelope, and
  // only clean removes it, after send has finished the message: an
  // envelope without its message is what is left of a finished one (or of
  // damage), never mail still owed. Ids are never reused, so no newer
  // message can be hurt by removing what is left under this one.
  log::line("{} removing its envelope and record: its message file is missing", log::kv("msg", id));
  if (::unlink(queue_dirs::state(id).c_str()) != 0 && errno != ENOENT)
    log::line("{} unable to remove its record: {}", log::kv("msg", id), std::strerror(errno));
  ask_clean(id);
  return false;
}

void Scheduler::save(Message& m, bool decision) {
  // Not fsync'ed: the envelope in todo/ stays until the message is finished,
  // so a record lost in a crash costs a repeated delivery, never a lost one.
  // A hold, release or delete is an administrator's decision, not a cache:
  // it must outlive a power cut (a release lost would leave the old record's
  // H line in force), so those records are synced.
  bool durable = decision || m.state.held() || !m.state.deleted_by.empty();
  if (!write_file_atomic(queue_dirs::state(m.id), encode_state(m.state), 0640, durable))
    log::line("{} unable to write its record: {}", log::kv("msg", m.id), std::strerror(errno));
  m.dirty = false;
  m.saved_at = std::time(nullptr);
}

void Scheduler::changed(Message& m) {
  m.dirty = true;
  dirty_.insert(m.id);
}

void Scheduler::retry_all() {
  std::time_t now = std::time(nullptr);
  for (auto& [id, m] : messages_) {
    for (auto& r : m.state.recipients)
      if (r.state == 'P' && r.next_try > now) r.next_try = now;
    m.next_settle = 0;
  }
  settle_all_ = true;
}

namespace {

std::size_t free_slots(const Channel& ch, unsigned long limit) {
  return ch.to < 0 || ch.busy >= limit ? 0 : limit - ch.busy;
}

}  // namespace

void Scheduler::start_due(std::time_t now) {
  std::size_t free_local = free_slots(*local_, controls_.concurrency_local);
  std::size_t free_remote = free_slots(*remote_, controls_.concurrency_remote);
  // With no slot free and both spawns running nothing can change here;
  // skipping the walk keeps a report from costing a pass over the queue.
  if (free_local == 0 && free_remote == 0 && local_->to >= 0 && remote_->to >= 0) return;
  // The walk starts after the message where the last one stopped and stops
  // once each running channel has offers from as many messages as it has
  // free slots: every slot can be filled from those (a message gets at
  // most one request a turn, plan.hpp), and the next walk goes on from
  // there, so the turns still go round every message. A walk over the
  // whole queue at every report made a delivery cost O(queue): with
  // 100,000 messages waiting, send spent 5 ms of CPU a delivery.
  // A channel no message in the queue uses is done at once; one that is
  // not running needs the whole walk: each of its recipients is deferred
  // or bounced below.
  std::size_t local_messages = 0, remote_messages = 0;  // messages that offered
  auto walk = messages_.upper_bound(walk_after_);
  for (std::size_t visited = 0; visited < messages_.size(); ++visited, ++walk) {
    if (walk == messages_.end()) walk = messages_.begin();
    bool local_done = local_holders_ == 0 || (local_->to >= 0 && local_messages >= free_local);
    bool remote_done = remote_holders_ == 0 || (remote_->to >= 0 && remote_messages >= free_remote);
    if (local_done && remote_done) break;
    auto& [id, m] = *walk;
    walk_after_ = id;
    if (m.state.held()) continue;
    auto& rs = m.state.recipients;
    while (m.first_pending < rs.size() && rs[m.first_pending].state != 'P') ++m.first_pending;
    // A message offers no more recipients than the slots could take, and
    // the walk stops there: a message to thousands costs a report only
    // the few recipients in flight or deferred before its next due one.
    std::size_t offered_local = 0, offered_remote = 0;
    const std::size_t cap_remote = free_remote * spawn::max_recipients;
    for (std::size_t i = m.first_pending; i < rs.size(); ++i) {
      bool local_full = local_->to >= 0 && offered_local >= free_local;
      bool remote_full = remote_->to >= 0 && offered_remote >= cap_remote;
      if (local_full && remote_full) break;
      auto& r = rs[i];
      if (r.state != 'P' || r.next_try > now || m.busy[i]) continue;
      Channel* ch = r.channel == 'L' ? local_ : remote_;
      if (ch->to >= 0 && (r.channel == 'L' ? local_full : remote_full)) continue;
      if (!valid_envelope_address(r.address) || m.state.sender.size() + r.address.size() > 2000) {
        r.state = 'B';
        r.reason = "This address is not valid here. (#5.1.3)";
        changed(m);
        touched(m);
        log_attempt(m, i, 0);
        continue;
      }
      if (ch->to < 0) {
        // Nothing delivers on this channel (yet); the recipient waits in the
        // queue (mailq shows why) until its lifetime ends.
        if (lifetime_over(m.state.arrived, now, controls_.queue_lifetime)) {
          r.state = 'B';
          r.reason = "This message could not be delivered before its queue lifetime ran out: " + r.reason;
          touched(m);
          log_attempt(m, i, 0);
        } else {
          r.reason = r.channel == 'R' ? "remote delivery is not running on this host"
                                      : "local delivery is not running (lspawn has exited)";
          r.next_try = next_retry(r.channel, m.state.arrived, now);
          wake_at(r.next_try);
        }
        changed(m);
        continue;
      }
      if (r.channel == 'L') {
        local_picker_.offer("", id, i);
        ++offered_local;
      } else {
        remote_picker_.offer(lower(split_address(r.address).domain), id, i);
        ++offered_remote;
      }
    }
    if (offered_local > 0) ++local_messages;
    if (offered_remote > 0) ++remote_messages;
    if (m.dirty) save(m);
  }
  dispatch(*local_, local_picker_.take(free_local));
  dispatch(*remote_, remote_picker_.take(free_remote));
}

void Scheduler::dispatch(Channel& ch, const std::vector<Pick>& picks) {
  for (auto& pick : picks) {
    Message& m = messages_.at(pick.id);
    spawn::Request req{pick.id, m.state.sender, {}};
    unsigned long first = next_delnum_;
    for (auto j : pick.recipients) req.targets.push_back({next_delnum_++, m.state.recipients[j].address});
    if (!write_all(ch.to, spawn::encode(req))) {
      log::line("unable to talk to the {} spawn: {}", ch.name == 'L' ? "local" : "remote", std::strerror(errno));
      ch.to = -1;
      return;
    }
    ++ch.busy;
    requests_[first] = pick.recipients.size();
    for (std::size_t k = 0; k < pick.recipients.size(); ++k) {
      std::size_t j = pick.recipients[k];
      ++m.in_flight;
      m.busy[j] = true;
      ++m.state.recipients[j].attempts;
      deliveries_.emplace(first + k, Delivery{pick.id, j, &ch, first, log_lines::now()});
    }
  }
}

void Scheduler::read_reports(Channel& channel) {
  std::string line;
  for (;;) {
    auto r = channel.reader->next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) {
      log::line("the {} spawn has exited", channel.name == 'L' ? "local" : "remote");
      channel.from = -1;
      channel.to = -1;
      // Its deliveries in flight are retried later: they may or may not
      // have happened, and a duplicate is better than a loss.
      std::vector<std::pair<unsigned long, Delivery>> lost;
      for (auto& [n, d] : deliveries_)
        if (d.channel == &channel) lost.emplace_back(n, d);
      for (auto& [n, d] : lost) {
        deliveries_.erase(n);
        apply(d, status::deferred, "the delivery program exited during this delivery", std::time(nullptr));
      }
      return;
    }
    if (r == LineReader::Result::line) {
      auto rep = spawn::decode_report(line);
      auto d = rep ? deliveries_.find(rep->delnum) : deliveries_.end();
      if (d == deliveries_.end()) {
        log::line("ignored a malformed report from the {} spawn", channel.name == 'L' ? "local" : "remote");
      } else {
        Delivery del = d->second;
        deliveries_.erase(d);
        apply(del, rep->result, rep->text, std::time(nullptr));
      }
    }
    if (channel.reader->buffered() == 0) return;
  }
}

void Scheduler::apply(const Delivery& d, char result, const std::string& text, std::time_t now) {
  // The spawn's slot is free once every recipient of the request reported.
  if (auto req = requests_.find(d.request); req != requests_.end() && --req->second == 0) {
    requests_.erase(req);
    --d.channel->busy;
  }
  Message& m = messages_.at(d.id);
  --m.in_flight;
  m.busy[d.index] = false;
  RecipientState& r = m.state.recipients[d.index];
  r.reason = text;
  if (result == status::delivered) {
    r.state = 'D';
  } else if (result == status::failed) {
    r.state = 'B';
  } else if (lifetime_over(m.state.arrived, now, controls_.queue_lifetime)) {
    r.state = 'B';
    r.reason = "This message could not be delivered before its queue lifetime ran out. The last failure was: " + text;
  } else {
    r.next_try = next_retry(r.channel, m.state.arrived, now);
    wake_at(r.next_try);
  }
  if (!m.state.deleted_by.empty() && r.state != 'D') {
    r.state = 'X';
    r.reason = "deleted by " + m.state.deleted_by;
  }
  // Written by flush(), at most once a second: rewriting the record of a
  // message to thousands of recipients after every report would cost more
  // than the deliveries.
  changed(m);
  touched(m);
  log_attempt(m, d.index, d.started);
}

void Scheduler::log_attempt(const Message& m, std::size_t index, double started) {
  const RecipientState& r = m.state.recipients[index];
  log_lines::Attempt a;
  a.id = m.id;
  a.address = r.address;
  a.channel = r.channel;
  a.state = r.state;
  a.arrived = m.queued_at;
  a.ended = log_lines::now();
  a.started = started == 0 ? a.ended : started;
  a.text = r.reason;
  log::line("{}", log_lines::attempt(a));
}

void Scheduler::flush(std::time_t now, bool all) {
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    auto m = messages_.find(*it);
    if (m == messages_.end() || !m->second.dirty) {
      it = dirty_.erase(it);
    } else if (all || m->second.saved_at != now) {
      save(m->second);
      it = dirty_.erase(it);
    } else {
      ++it;
    }
  }
}

void Scheduler::settle(std::time_t now) {
  std::vector<std::string> finished;
  if (settle_all_ || now >= settle_retry_at_) {
    // Rare (sendmail -q, or a minute after a bounce or clean-up failed):
    // the one pass over every message, which also finds the next retry.
    settle_all_ = false;
    settle_retry_at_ = std::numeric_limits<std::time_t>::max();
    unsettled_.clear();
    for (auto& [id, m] : messages_) {
      if (settle_one(m, now)) finished.push_back(id);
      else if (m.next_settle > now) settle_retry_at_ = std::min(settle_retry_at_, m.next_settle);
    }
  } else {
    for (auto& id : unsettled_) {
      auto it = messages_.find(id);
      if (it == messages_.end()) continue;
      Message& m = it->second;
      if (settle_one(m, now)) finished.push_back(id);
      else if (m.next_settle > now) settle_retry_at_ = std::min(settle_retry_at_, m.next_settle);
    }
    unsettled_.clear();
  }
  for (auto& id : finished) {
    auto it = messages_.find(id);
    local_holders_ -= it->second.on_local;
    remote_holders_ -= it->second.on_remote;
    messages_.erase(it);
  }
}

bool Scheduler::settle_one(Message& m, std::time_t now) {
  // A message with deliveries in flight is touched again when they report.
  if (m.in_flight || m.next_settle > now) return false;
  bool pending = false, owed = false;
  for (auto& r : m.state.recipients) {
    pending |= r.state == 'P';
    owed |= r.state == 'B';
  }
  if (owed && !bounce(m, now)) {
    m.next_settle = now + 60;
    return false;
  }
  if (pending) return false;
  if (finish(m)) return true;
  m.next_settle = now + 60;
  return false;
}

bool Scheduler::bounce(Message& m, std::time_t now) {
  std::vector<FailedRecipient> failed;
  for (auto& r : m.state.recipients)
    if (r.state == 'B') failed.push_back({r.address, r.reason, r.channel});
  std::string sender = m.state.sender;
  std::string to, envelope_sender;
  if (sender == double_bounce_sender) {
    log::line("{} bounce=- reason=\"a triple bounce: discarded\"", log::kv("msg", m.id));
  } else if (sender.empty()) {
    to = controls_.double_bounce_to;
    envelope_sender = std::string(double_bounce_sender);
    if (to.empty())
      log::line("{} bounce=- reason=\"a double bounce: discarded (control/doublebounceto is empty)\"", log::kv("msg", m.id));
  } else {
    to = sender;
  }
  if (!to.empty()) {
    Fd original(::open(queue_dirs::mess(m.id).c_str(), O_RDONLY | O_CLOEXEC));
    if (!original.ok()) {
      log::line("{} unable to read it for its bounce: {}", log::kv("msg", m.id), std::strerror(errno));
      return false;
    }
    std::string report = compose_bounce(controls_, to, m.state.arrived, failed, original.get());
    QueueClient q(Origin::here);  // a bounce is this host's own mail: signed
    q.write(report);
    int code = q.finish(Envelope{envelope_sender, {to}, {}});
    if (code != 0) {
      log::line("{} unable to queue its bounce: {}", log::kv("msg", m.id), queue_failure_text(code));
      return false;
    }
    log::line("{} {}", log::kv("msg", m.id), log::kv("bounce", q.queue_id().empty() ? "-" : q.queue_id()));
  }
  for (auto& r : m.state.recipients)
    if (r.state == 'B') r.state = 'X';
  (void)now;
  save(m);
  return true;
}

bool Scheduler::finish(Message& m) {
  // The record goes first, so that a crash before clean answers leaves the
  // envelope without a record, and the message is delivered again: a
  // duplicate, never a loss. None of these removals is fsync'ed: a power
  // cut may bring back the record, the envelope or both, and they then
  // name this finished message alone (ids are never reused, make_id), so
  // the worst is a repeated delivery, or a leftover that load removes.
  // Nothing here needs a sync.
  if (::unlink(queue_dirs::state(m.id).c_str()) != 0 && errno != ENOENT) {
    log::line("{} unable to remove its record: {}", log::kv("msg", m.id), std::strerror(errno));
    return false;
  }
  if (!ask_clean(m.id)) {
    save(m);
    return false;
  }
  log::line("{} end", log::kv("msg", m.id));
  return true;
}

bool Scheduler::ask_clean(const std::string& id) {
  if (clean_to_ < 0 || !write_all(clean_to_, "D" + id + "\n")) {
    log::line("unable to talk to clean");
    return false;
  }
  std::string reply;
  char c;
  while (reply.size() < 1000) {
    ssize_t n = ::read(clean_from_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::line("clean has exited");
      clean_to_ = -1;
      return false;
    }
    if (c == '\n') break;
    reply += c;
  }
  if (reply != "+") {
    log::line("{} clean could not remove it: {}", log::kv("msg", id), reply.empty() ? "" : reply.substr(1));
    return false;
  }
  return true;
}

void Scheduler::clean_hung_up() {
  if (clean_to_ < 0) return;
  char c;
  ssize_t n = ::read(clean_from_, &c, 1);
  if (n == 0) log::line("clean has exited");
  else log::line("clean spoke out of turn; no longer trusting it");
  clean_to_ = -1;
}

int Scheduler::timeout_ms(std::time_t now) {
  std::time_t next = now + 60;
  if (!unsettled_.empty() || settle_all_) next = now;
  if (!dirty_.empty()) next = std::min(next, now + 1);
  next = std::min(next, settle_retry_at_);
  // Due recipients that wait for a free slot are started when a report
  // frees one, so only future tries set the timeout. A time that has come
  // is dropped: its recipients are due now, or were tried already.
  while (!wakeups_.empty() && *wakeups_.begin() <= now) wakeups_.erase(wakeups_.begin());
  if (!wakeups_.empty()) next = std::min(next, *wakeups_.begin());
  if (next <= now) return 0;
  return static_cast<int>(next - now) * 1000;
}

}  // namespace postern::send
