// scratch: throwaway directories and message files for the unit tests
// that need a real file system (maildir, mbox, lock).
#pragma once
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "base/io.hpp"

namespace postern::test {

// A new empty directory under /tmp.
inline std::string temp_dir() {
  char t[] = "/tmp/postern-unit-XXXXXX";
  REQUIRE(::mkdtemp(t));
  return t;
}

// dir/message holding bytes, opened for reading from the start.
inline int message_fd(const std::string& dir, std::string_view bytes) {
  std::string path = dir + "/message";
  REQUIRE(write_file_atomic(path, bytes, 0600));
  int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  return fd;
}

inline void remove_tree(const std::string& dir) {
  std::string cmd = "rm -rf '" + dir + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace postern::test
