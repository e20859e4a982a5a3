// input: reads the message inject is given on a descriptor, line by line
// for the header and in large pieces for the body, turning CRLF line ends
// into LF on the way. Trusts nothing about the bytes: every line is bounded
// by the caller. What the bytes may hold is mail/message_rules' business.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace postern::inject {

class Input {
 public:
  enum class Result { ok, eof, too_long, error };

  explicit Input(int fd) : fd_(fd) {}

  // The next line with its "\n" (a last line without one is returned as it
  // is). too_long when no "\n" comes within max bytes; those bytes stay
  // unread, for pending() and chunk().
  Result line(std::string& out, std::size_t max);
  // What has been read but not yet returned, as it came (CRLF unchanged).
  std::string_view pending() const { return std::string_view(buf_).substr(pos_); }

  // The next piece of the rest of the input (at most about 64 KB); eof when
  // nothing is left.
  Result chunk(std::string& out);

 private:
  bool fill();
  // Moves buf_[pos_, end) to out with CRLF made LF.
  Result take(std::string& out, std::size_t end);

  int fd_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t scanned_ = 0;  // buf_ before this holds no '\n' after pos_
  bool eof_ = false;
};

}  // namespace postern::inject
