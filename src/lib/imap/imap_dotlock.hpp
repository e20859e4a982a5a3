// imap_dotlock: Dovecot's dot-lock of a file, taken as Dovecot takes it,
// so postern and a Dovecot on the same Maildir exclude each other: the lock
// of FILE is FILE.lock, created with O_EXCL and holding "pid:hostname".
// A lock is stale, and is removed, when its process is gone (same host,
// lock older than 2 seconds), or when neither the lock nor FILE changed
// for stale_seconds. Waits at most wait_seconds.
//
// Trusts the caller for the path; the lock file's contents are read as
// untrusted (a number and a host name, nothing more).
#pragma once
#include <string>

namespace postern::imap {

class Dotlock {
 public:
  // Dovecot's dovecot-uidlist: stale after 120 s, wait up to 122 s.
  explicit Dotlock(std::string file, int stale_seconds = 120, int wait_seconds = 122);
  ~Dotlock();
  Dotlock(const Dotlock&) = delete;
  Dotlock& operator=(const Dotlock&) = delete;
  // False with errno when the lock could not be had in time (EAGAIN) or
  // the directory cannot be written.
  bool ok() const { return held_; }
  // Drops the lock now (only if the lock file is still the one made here).
  void release();

 private:
  std::string file_, lock_;
  bool held_ = false;
  unsigned long dev_ = 0, ino_ = 0;
};

// The host name Dovecot writes into its locks (gethostname).
const std::string& lock_hostname();

}  // namespace postern::imap
