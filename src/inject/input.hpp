// input: reads the message inject is given on a descriptor, line by line
// for the header and in large pieces for the body, turning CRLF line ends
// into LF on the way. Trusts nothing about the bytes: every line is bounded
// by the caller, and a NUL byte anywhere is reported rather than passed on
// (qmail's queue files and the delivery programs treat NUL as garbage).
#pragma once
#include <cstddef>
#include <string>

namespace postern::inject {

class Input {
 public:
  enum class Result { ok, eof, too_long, nul, error };

  explicit Input(int fd) : fd_(fd) {}

  // The next line with its "\n" (a last line without one is returned as it
  // is). too_long when no "\n" comes within max bytes.
  Result line(std::string& out, std::size_t max);

  // The next piece of the rest of the input (at most about 64 KB); eof when
  // nothing is left.
  Result chunk(std::string& out);

 private:
  bool fill();
  // Moves buf_[pos_, end) to out with CRLF made LF; nul when a NUL is in it.
  Result take(std::string& out, std::size_t end);

  int fd_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t scanned_ = 0;  // buf_ before this holds no '\n' after pos_
  bool eof_ = false;
};

}  // namespace postern::inject
