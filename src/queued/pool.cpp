// pool: see pool.hpp.
#include "pool.hpp"

#include <pthread.h>

#include <chrono>
#include <system_error>
#include <thread>

namespace postern::queued {

namespace {
constexpr auto idle_for = std::chrono::seconds(60);
}

Pool::Offer Pool::offer(int fd, const ucred& peer) {
  std::unique_lock lock(mutex_);
  if (busy_ + jobs_.size() >= max_) return Offer::full;
  if (idle_ > 0) {
    // Promised to one waiting thread: idle_ counts those not yet promised.
    --idle_;
    jobs_.push_back({fd, peer});
    jobs_cv_.notify_one();
    return Offer::taken;
  }
  ++busy_;
  ++threads_;
  try {
    std::thread([this, job = Job {fd, peer}] { work(job); }).detach();
  } catch (const std::system_error&) {
    --busy_;
    --threads_;
    return Offer::no_thread;
  }
  return Offer::taken;
}

void Pool::work(Job job) {
  // Named, so that ps -L and top -H tell the kinds of thread apart.
  ::pthread_setname_np(::pthread_self(), "queued client");
  for (;;) {
    serve_(job.fd, job.peer);
    std::unique_lock lock(mutex_);
    --busy_;
    done_cv_.notify_all();
    ++idle_;
    jobs_cv_.wait_for(lock, idle_for, [this] { return !jobs_.empty() || stopping_; });
    if (jobs_.empty()) {
      // Timed out or stopping, and promised nothing.
      --idle_;
      --threads_;
      done_cv_.notify_all();
      return;
    }
    job = jobs_.front();
    jobs_.pop_front();
    ++busy_;
  }
}

std::size_t Pool::active() {
  std::lock_guard lock(mutex_);
  return busy_ + jobs_.size();
}

void Pool::drain() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  jobs_cv_.notify_all();
  done_cv_.wait(lock, [this] { return threads_ == 0; });
}

}  // namespace postern::queued
