// queue_dirs: see queue_dirs.hpp.
#include "mail/queue_dirs.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace postern::queue_dirs {

void poke_send(char byte) {
  int fd = ::open(trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] auto n = ::write(fd, &byte, 1);
  ::close(fd);
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 20) return false;
  for (char c : id)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace postern::queue_dirs
