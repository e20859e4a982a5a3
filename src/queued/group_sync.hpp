// group_sync: one directory's fsync shared by every message that needs it
// (group commit). A caller that has made its entry calls sync() and
// returns once an fsync of the directory that began after its call has
// ended: a sync already running may have missed its entry, so it waits for
// the next one, which then covers every caller that came in meanwhile. No
// delay is added: the next sync starts as soon as the last one ends.
// Trusts nothing; returns whether that covering fsync succeeded.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace postern::queued {

class GroupSync {
 public:
  // after(batch) runs in the syncing thread after each fsync that
  // succeeded, with the number of callers it covered.
  GroupSync(std::string dir, std::function<void(std::size_t)> after = {})
      : dir_(std::move(dir)), after_(std::move(after)) {}
  bool sync();

 private:
  std::string dir_;
  std::function<void(std::size_t)> after_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  std::uint64_t started_ = 0;    // fsyncs begun
  std::uint64_t done_ = 0;       // fsyncs ended
  std::uint64_t failed_ = 0;     // the last fsync that failed (0: none)
  std::size_t waiting_ = 0;      // callers the next fsync will cover
  bool running_ = false;
};

}  // namespace postern::queued
