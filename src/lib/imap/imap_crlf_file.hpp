// imap_crlf_file: a stored message file (LF line ends, as local writes
// them) read piecewise in the CRLF form IMAP counts and sends, so a FETCH
// of BODY[], BODY[HEADER], BODY[TEXT] or RFC822 of any size holds one
// block, never the message. The file is the mailbox owner's own; its
// bytes are untrusted (any bytes give some header and size). Returns
// false on read errors.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace postern::imap {

class CrlfFile {
 public:
  CrlfFile() = default;
  ~CrlfFile();
  CrlfFile(const CrlfFile&) = delete;
  CrlfFile& operator=(const CrlfFile&) = delete;

  // Opens the file and reads it once through: the CRLF sizes of the whole
  // and of its header (up to and with the blank line; all of it when
  // there is none), as imap_message's Message divides it.
  bool open(const std::string& path);
  std::uint64_t size() const { return size_; }
  std::uint64_t header_size() const { return header_; }
  // Calls out with the CRLF form's bytes [from, from + count) (clipped to
  // the file), in pieces of at most 64 KiB; stops early when out returns
  // false.
  bool copy(std::uint64_t from, std::uint64_t count, const std::function<bool(std::string_view)>& out);

 private:
  // Reads the file from its start, calling each with every converted block.
  bool scan(const std::function<bool(std::string_view)>& each);
  int fd_ = -1;
  std::uint64_t size_ = 0, header_ = 0;
};

}  // namespace postern::imap
