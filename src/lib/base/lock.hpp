// lock: the two ways mail programs agree not to write a mailbox at once.
// fcntl(2) record locks (what the kernel enforces between cooperating
// processes, on local and NFS file systems) and dot-lock files ("file.lock",
// the convention of procmail, lockfile(1), mutt and mail.local). A mailbox
// writer takes both: the dot lock first, then the fcntl lock, as procmail does.
//
// Trusts the caller for paths; the lock files themselves may be left by
// anyone (a stale one is removed after `stale` seconds). Every wait is
// bounded: results say locked, timed out, or failed (errno set).
#pragma once
#include <chrono>
#include <string>

namespace postern::lock {

enum class Result {
  locked,   // held now
  timeout,  // someone else held it for the whole wait
  denied,   // dot lock only: the directory is not writable by us
  error,    // any other failure; errno says why
};

// A write lock on the whole of fd (open for writing), waiting at most
// `timeout` for a holder to let go. Single-threaded callers only: the wait
// is bounded with SIGALRM, whose previous handler and timer are restored.
Result fcntl_lock(int fd, std::chrono::seconds timeout);
void fcntl_unlock(int fd);

// A dot lock: the file `path` (usually mailbox + ".lock") created with
// O_EXCL, removed again by release() or the destructor.
class DotLock {
 public:
  DotLock() = default;
  DotLock(const DotLock&) = delete;
  DotLock& operator=(const DotLock&) = delete;
  ~DotLock() { release(); }

  // Retries with short sleeps for up to `timeout`. A lock file whose
  // modification time is more than `stale` old is taken to be left by a
  // crashed process and removed.
  Result acquire(const std::string& path, std::chrono::seconds timeout,
                 std::chrono::seconds stale = std::chrono::seconds(300));
  // Removes the lock file if we hold it.
  void release();
  bool held() const { return !path_.empty(); }

 private:
  std::string path_;
};

}  // namespace postern::lock
