// dot: see dot.hpp. A small state machine over each byte, so lines of any
// length pass through without being held in memory.
#include "dot.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/io.hpp"

namespace postern::sendmail {

CopyResult copy_until_dot(int in, int out) {
  // start: at the beginning of a line; dot: after "." there; dot_cr: after
  // ".\r" there; middle: anywhere else.
  enum { start, dot, dot_cr, middle } state = start;
  char buf[65536];
  std::string pending;
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return CopyResult::read_error;
    }
    if (n == 0) return write_all(out, pending) ? CopyResult::ok : CopyResult::write_error;
    std::string out_bytes;
    out_bytes.reserve(static_cast<std::size_t>(n) + 2);
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      if (c == '\n' && (state == dot || state == dot_cr))
        return write_all(out, out_bytes) ? CopyResult::ok : CopyResult::write_error;
      if (state == start && c == '.') {
        state = dot;
        pending = ".";
        continue;
      }
      if (state == dot && c == '\r') {
        state = dot_cr;
        pending = ".\r";
        continue;
      }
      out_bytes += pending;
      pending.clear();
      out_bytes += c;
      state = c == '\n' ? start : middle;
    }
    // pending stays held: it may be the start of the ending line.
    if (!write_all(out, out_bytes)) return CopyResult::write_error;
  }
}

}  // namespace postern::sendmail
