// overlap: see overlap.hpp.
#include "overlap.hpp"

#include <pthread.h>

#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

namespace postern::queued {

namespace {
constexpr auto idle_for = std::chrono::seconds(60);
}

Overlap::~Overlap() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  tasks_cv_.notify_all();
  exit_cv_.wait(lock, [this] { return helpers_ == 0; });
}

void Overlap::start_helper() {
  if (helpers_ >= max_ || idle_ >= tasks_.size()) return;
  try {
    // Born idle: it cannot take the lock (held here) before it is counted.
    std::thread([this] { help(); }).detach();
    ++helpers_;
    ++idle_;
  } catch (const std::system_error&) {
    // No thread: the task stays queued and its caller runs it.
  }
}

bool Overlap::all(std::initializer_list<Job> jobs) {
  if (jobs.size() == 0) return true;
  Batch batch;
  std::unique_lock lock(mutex_);
  for (auto it = jobs.begin() + 1; it != jobs.end(); ++it) {
    tasks_.push_back({it, &batch});
    ++batch.left;
    start_helper();
    // One helper a task: waking every idle one would cost each message
    // as many context switches as helpers wait.
    tasks_cv_.notify_one();
  }
  lock.unlock();

  bool ok = (*jobs.begin())();

  // Take back what no helper has started, and run it here.
  std::vector<const Job*> mine;
  lock.lock();
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->batch == &batch) {
      mine.push_back(it->job);
      it = tasks_.erase(it);
      --batch.left;
    } else {
      ++it;
    }
  }
  lock.unlock();
  for (const Job* job : mine) ok = (*job)() && ok;

  lock.lock();
  batch.done.wait(lock, [&batch] { return batch.left == 0; });
  return ok && batch.ok;
}

void Overlap::help() {
  ::pthread_setname_np(::pthread_self(), "queued sync");
  std::unique_lock lock(mutex_);
  for (;;) {  // idle_ counts this thread while it waits
    bool woke = tasks_cv_.wait_for(lock, idle_for, [this] { return !tasks_.empty() || stopping_; });
    --idle_;
    if (!woke || tasks_.empty()) {
      --helpers_;
      exit_cv_.notify_all();
      return;
    }
    Task task = tasks_.front();
    tasks_.pop_front();
    lock.unlock();
    bool ok = (*task.job)();
    lock.lock();
    // The batch lives on its caller's stack; the caller cannot leave
    // all() before it holds mutex_ again, so this is safe under it.
    if (!ok) task.batch->ok = false;
    if (--task.batch->left == 0) task.batch->done.notify_all();
    ++idle_;
  }
}

}  // namespace postern::queued
