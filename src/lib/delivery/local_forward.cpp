// local_forward: the &address lines of a .qmail file. All of them are sent as one
// new message through the queue (bin/queue via QueueClient), with the
// envelope sender unchanged (bounces go back to the original sender, as in
// qmail) and our Delivered-To: line on top, which is what stops a forwarding
// loop the next time round.
//
// The addresses come from the user's file: they are checked with the same
// rules the queue applies, so a typo gives a clear deferral here rather
// than a refusal from the queue.
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mail/address.hpp"
#include "mail/envelope.hpp"
#include "delivery/local_parts.hpp"
#include "mail/queue_client.hpp"
#include "base/strings.hpp"

namespace postern::delivery {

std::optional<std::string> forward_address(const Context& c, const std::string& line) {
  std::string addr(trim(line));
  if (addr.empty() || addr.find_first_of(" \t") != std::string::npos) return std::nullopt;
  // Like a bare user name in ~/.forward: the same domain the mail came to.
  if (addr.find('@') == std::string::npos) addr += "@" + c.domain;
  if (!valid_envelope_address(addr)) return std::nullopt;
  return addr;
}

Outcome forward(const Context& c, const std::vector<std::string>& to) {
  if (!rewind_message())
    return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  QueueClient queue;
  if (!queue.ok()) return temporary("Unable to forward message: unable to run the queue program. (#4.3.0)");
  bool written = queue.write(c.dtline);
  char buf[65536];
  while (written) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return temporary(std::string("Unable to read message: ") + std::strerror(errno) + ". (#4.3.0)");
    if (n == 0) break;
    written = queue.write(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  // A write that failed means queue stopped reading; its exit code says why.
  int code = queue.finish(Envelope{c.sender, to, {}});
  if (code == 0 && !written)  // it cannot have queued what it did not read
    return temporary("Unable to forward message: the queue program stopped reading. (#4.3.0)");
  if (code == 0) {
    std::string list;
    for (const auto& a : to) list += (list.empty() ? "" : ", ") + a;
    return {status::ok, "forwarded to " + list};
  }
  std::string text = "Unable to forward message: " + queue_failure_text(code) + ".";
  if (queue_failure_is_permanent(code)) return permanent(text + " (#5.3.0)");
  return temporary(text + " (#4.3.0)");
}

}  // namespace postern::delivery
