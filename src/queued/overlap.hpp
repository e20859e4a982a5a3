// overlap: runs a message's independent fsyncs at the same time. The
// message file, its envelope and the queue/mess entry must all be durable
// before the link into todo/, but not in any order among themselves; one
// after the other they cost three journal commits, side by side about one
// (the file system joins concurrent fsyncs into the commit under way).
// Helper threads are started when needed and wait a minute for more work;
// a job no helper has taken when the caller is done with its own runs in
// the caller, so nothing waits on a helper that is not there (none could
// be started, or all are busy). Trusts its callers (queued's clients);
// a job must not throw.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <initializer_list>
#include <mutex>

namespace postern::queued {

class Overlap {
 public:
  using Job = std::function<bool()>;
  explicit Overlap(std::size_t max_helpers) : max_(max_helpers) {}
  Overlap(const Overlap&) = delete;
  Overlap& operator=(const Overlap&) = delete;
  ~Overlap();

  // Runs every job once, at the same time where helpers allow, and
  // returns when all have ended: true when every one returned true.
  bool all(std::initializer_list<Job> jobs);

 private:
  struct Batch {
    std::size_t left = 0;  // jobs handed out and not yet ended
    bool ok = true;
    std::condition_variable done;
  };
  struct Task {
    const Job* job;
    Batch* batch;
  };
  void help();
  void start_helper();  // with mutex_ held

  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable tasks_cv_, exit_cv_;
  std::deque<Task> tasks_;
  std::size_t idle_ = 0;     // helpers waiting for a task
  std::size_t helpers_ = 0;  // helpers alive
  bool stopping_ = false;
};

}  // namespace postern::queued
