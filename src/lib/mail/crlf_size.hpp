// crlf_size: the size of a message as it crosses the network, with every
// line ending in CRLF: its bytes plus one for each LF not preceded by a CR.
// POP3's LIST and STAT (RFC 1939) and IMAP's RFC822.SIZE report it for
// messages stored with bare LF line ends.
#pragma once
#include <cstdint>
#include <string_view>

namespace postern {

class CrlfSize {
 public:
  // Counts the next bytes of the message; a CR at the end of one piece and
  // an LF at the start of the next are one line end.
  void feed(std::string_view in);
  std::uint64_t size() const { return size_; }

 private:
  std::uint64_t size_ = 0;
  bool last_cr_ = false;
};

}  // namespace postern
