// input: see input.hpp. Reads 16 KB at a time; a line is searched for its
// end only in bytes not yet searched, so a long line costs linear time.
#include "input.hpp"

#include <unistd.h>

#include <cstring>

#include "base/io.hpp"

namespace postern::inject {

namespace {
constexpr std::size_t piece = 65536;
}

bool Input::fill() {
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > piece)) {
    buf_.erase(0, pos_);
    scanned_ -= pos_;
    pos_ = 0;
  }
  return read_append(fd_, buf_, eof_);
}

Input::Result Input::take(std::string& out, std::size_t end) {
  out.clear();
  std::string_view s(buf_.data() + pos_, end - pos_);
  pos_ = end;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return Result::ok;
}

Input::Result Input::line(std::string& out, std::size_t max) {
  if (scanned_ < pos_) scanned_ = pos_;
  for (;;) {
    std::size_t nl = buf_.find('\n', scanned_);
    if (nl != std::string::npos) {
      scanned_ = nl + 1;
      if (nl + 1 - pos_ > max) return Result::too_long;
      return take(out, nl + 1);
    }
    scanned_ = buf_.size();
    if (buf_.size() - pos_ > max) return Result::too_long;
    if (eof_) {
      if (pos_ == buf_.size()) return Result::eof;
      return take(out, buf_.size());
    }
    if (!fill()) return Result::error;
  }
}

Input::Result Input::chunk(std::string& out) {
  for (;;) {
    std::size_t have = buf_.size() - pos_;
    if (eof_ && have == 0) return Result::eof;
    // A CR at the end may be the first half of a CRLF still to come.
    bool held_cr = !eof_ && have > 0 && buf_.back() == '\r';
    if (have > (held_cr ? 1u : 0u)) return take(out, buf_.size() - (held_cr ? 1 : 0));
    if (!fill()) return Result::error;
  }
}

}  // namespace postern::inject
