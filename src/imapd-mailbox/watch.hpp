// watch: the kernel's word (inotify) that something changed in the
// directories a session watches (a folder's new/ and cur/, the Maildir
// root), and the one wait that IDLE and NOTIFY share: for the client's
// next bytes or such a word, whichever comes first, never longer than the
// session's deadline. Trusts the kernel; an event's name is only compared
// with names the session knows, never made into a path. Returns events,
// and what woke the wait.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/netio.hpp"

namespace imapd {

// Seconds between looks at the watched folders' times, for what inotify
// cannot see (a Maildir on NFS changed by another host); without inotify
// (another system, or the user's max_user_instances or max_user_watches
// reached) the session looks this often instead (imapd(8)).
constexpr int idle_check = 30;
constexpr int poll_check = 2;

class Watch {
 public:
  // A watch with no directories; fd() is -1 when the kernel gives none.
  Watch();
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  int fd() const { return fd_; }
  // Watches a directory for entries created, removed and renamed (and
  // itself removed or renamed); the kernel's watch number, or -1 (errno).
  int add(const std::string& dir);
  void remove(int wd);

  struct Event {
    int wd;
    std::uint32_t mask;
    std::uint32_t cookie;  // pairs the two halves of a rename
    std::string name;
  };
  // The events queued so far, without waiting. overflow: the kernel
  // dropped some (its queue was full), so anything may have changed.
  std::vector<Event> take(bool& overflow);

 private:
  int fd_ = -1;
};

enum class Woke { input, change, timeout };

// Waits at most seconds (> 0) for the client's next bytes or for watch_fd
// (-1: none) to become readable. input also when a read would not wait
// (bytes held by NetIO or COMPRESS, a passed deadline: the read that
// follows says goodbye) or when the wait reached the session's deadline.
Woke wait_for(postern::NetIO& io, int watch_fd, int seconds);

}  // namespace imapd
