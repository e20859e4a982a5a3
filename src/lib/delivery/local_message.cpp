// local_message: the message on fd 0, as local's delivery reads it. lspawn gives the queue
// file, which can be rewound; a pipe (someone testing by hand) is copied
// to an unlinked file first so every delivery can start from byte 0.
//
// The loop check reads the header only, streaming, and keeps no more than
// the start of each line: a 1 MB header line costs no memory, and a header
// larger than max_header is checked only that far (a loop is found in the
// first hops, which prepend their Delivered-To: lines at the top).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/io.hpp"
#include "delivery/local_parts.hpp"
#include "base/strings.hpp"

namespace postern::delivery {

namespace {

constexpr std::size_t max_header = 64 << 20;
constexpr std::size_t keep = 2048;  // longer than any recipient address we accept
constexpr int max_hops = 100;
constexpr std::string_view field = "delivered-to:";

}  // namespace

bool rewind_message() { return ::lseek(0, 0, SEEK_SET) == 0; }

Outcome prepare_message() {
  if (rewind_message()) return {};
  if (errno != ESPIPE) return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    char name[] = "/tmp/local.XXXXXX";
    fd = ::mkostemp(name, O_CLOEXEC);
    if (fd >= 0) ::unlink(name);
  }
  if (fd < 0) return temporary(std::string("Unable to make a temporary file: ") + std::strerror(errno) + ". (#4.3.0)");
  Fd tmp(fd);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return temporary(std::string("Unable to read message: ") + std::strerror(errno) + ". (#4.3.0)");
    if (n == 0) break;
    if (!write_all(tmp.get(), std::string_view(buf, static_cast<std::size_t>(n))))
      return temporary(std::string("Unable to copy message: ") + std::strerror(errno) + ". (#4.3.0)");
  }
  if (::dup2(tmp.get(), 0) != 0 || !rewind_message())
    return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  return {};
}

Outcome check_loop(const Context& c) {
  if (!rewind_message()) return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  const std::string mine = lower(c.recipient);
  std::string line;         // the first `keep` bytes of the current line
  std::size_t length = 0;   // its whole length
  std::size_t total = 0;
  int hops = 0;
  bool looping = false;

  // Looks at one complete line; false at the end of the header.
  auto judge = [&]() {
    if (length == 0 || (length == 1 && line == "\r")) return false;
    if (line.size() >= field.size() && lower(line.substr(0, field.size())) == field) {
      ++hops;
      if (length <= keep && lower(trim(std::string_view(line).substr(field.size()))) == mine)
        looping = true;
    }
    return true;
  };

  char buf[65536];
  bool header = true;
  while (header && total < max_header) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return temporary(std::string("Unable to read message: ") + std::strerror(errno) + ". (#4.3.0)");
    if (n == 0) {
      if (length > 0) judge();
      break;
    }
    total += static_cast<std::size_t>(n);
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      std::size_t nl = chunk.find('\n');
      std::string_view part = chunk.substr(0, nl);
      if (line.size() < keep) line.append(part.substr(0, keep - line.size()));
      length += part.size();
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
      if (!judge()) {
        header = false;
        break;
      }
      line.clear();
      length = 0;
    }
  }
  if (looping)
    return permanent("This message is looping: it already has my Delivered-To line. (#5.4.6)");
  if (hops > max_hops)
    return permanent("This message is looping: it has more than " + std::to_string(max_hops) +
                     " Delivered-To lines (too many hops). (#5.4.6)");
  return {};
}

}  // namespace postern::delivery
