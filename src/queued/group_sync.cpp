// group_sync: see group_sync.hpp.
#include "group_sync.hpp"

#include "base/io.hpp"

namespace postern::queued {

bool GroupSync::sync() {
  std::unique_lock lock(mutex_);
  // Every fsync numbered up to started_ may have begun before our entry
  // was made; the first one that surely saw it is the next.
  const std::uint64_t need = started_ + 1;
  ++waiting_;
  while (done_ < need) {
    if (running_) {
      done_cv_.wait(lock);
      continue;
    }
    running_ = true;
    const std::uint64_t mine = ++started_;
    const std::size_t batch = waiting_;
    waiting_ = 0;
    lock.unlock();
    bool ok = fsync_dir(dir_);
    if (ok && after_) after_(batch);
    lock.lock();
    running_ = false;
    done_ = mine;
    if (!ok) failed_ = mine;
    done_cv_.notify_all();
  }
  // A failure of our fsync, or of a later one (which we cannot tell from
  // ours), reports a failure: never a success that is not sure.
  return failed_ < need;
}

}  // namespace postern::queued
