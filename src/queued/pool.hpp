// pool: the threads that serve queued's clients. A thread that finishes a
// client waits for the next one (a minute at most) instead of exiting, so
// a message does not pay for a thread's start and end (its stack mapped,
// faulted in, and given back with madvise at exit: a tenth of queued's
// CPU when each client had a thread of its own). At most max clients are
// in service at once; a new one is never made to wait for another's end.
// Trusts its callers (queued's accept loop); serve must not throw.
#pragma once
#include <sys/socket.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace postern::queued {

class Pool {
 public:
  using Serve = std::function<void(int fd, const ucred& peer)>;
  Pool(std::size_t max, Serve serve) : max_(max), serve_(std::move(serve)) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() { drain(); }

  enum class Offer { taken, full, no_thread };
  // Hands fd to an idle thread or a new one; on full or no_thread the
  // caller still owns fd.
  Offer offer(int fd, const ucred& peer);
  // Clients in service or about to be.
  std::size_t active();
  // Waits for every client to be finished and every thread to end.
  void drain();

 private:
  struct Job {
    int fd;
    ucred peer;
  };
  void work(Job first);

  const std::size_t max_;
  const Serve serve_;
  std::mutex mutex_;
  std::condition_variable jobs_cv_, done_cv_;
  std::deque<Job> jobs_;
  std::size_t busy_ = 0;     // threads serving a client
  std::size_t idle_ = 0;     // waiting threads not yet promised a job
  std::size_t threads_ = 0;  // threads alive
  bool stopping_ = false;
};

}  // namespace postern::queued
