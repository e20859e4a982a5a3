// oplog: crashfs's record of every change it passes to the backing
// directory, one line an operation, numbered from 1, appended to a file
// outside the mount before the operation is answered. tests/crashfs/README
// gives the line format; tests/system/crashstate.py reads it back.
//
// Trusts its callers for the text of each field; encodes paths and data so
// that any byte survives (percent-encoding of every byte outside ! to ~ and
// of '%' itself). Returns the number given to the operation.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace crashfs {

// Percent-encodes bytes, so a field never holds a space or a newline.
std::string encode(std::string_view bytes);

class OpLog {
 public:
  // Opens (creates, truncates) the log; exits the process on failure: a
  // crash file system that cannot record is useless to the test.
  explicit OpLog(const std::string& path);
  // Writes "<n> <text>\n" with one write(2) and returns n.
  std::uint64_t append(const std::string& text);
  std::uint64_t count() const { return count_; }

 private:
  int fd_ = -1;
  std::uint64_t count_ = 0;
};

}  // namespace crashfs
