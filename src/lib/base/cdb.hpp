// cdb: constant databases (tinycdb), the format qmail users know: written
// once, atomically, read by many without locks. Used for users/assign.cdb
// and the aliases database.
#pragma once
#include <cdb.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/io.hpp"

namespace postern {

class CdbReader {
 public:
  // Opens path; false with errno set when it cannot (ENOENT: no database).
  bool open(const std::string& path);
  ~CdbReader();
  // The value of key; nullopt when absent. read_error() tells a failure apart.
  std::optional<std::string> find(std::string_view key);
  bool read_error() const { return error_; }

 private:
  Fd fd_;
  struct cdb db_ {};
  bool open_ = false;
  bool error_ = false;
};

class CdbWriter {
 public:
  // Writes into path.tmp.PID, created with mode (whatever the umask: the
  // readers are other users, or, for secrets, only the owner from the first
  // byte on); finish() renames it over path.
  bool start(const std::string& path, int mode = 0644);
  bool add(std::string_view key, std::string_view value);
  // Gives the new file a group before it is installed (a reader's group).
  bool set_group(gid_t group);
  // fsync, rename, directory fsync; false with errno on any failure (the old
  // database then stays in place).
  bool finish();
  ~CdbWriter();

 private:
  std::string path_, tmp_;
  Fd fd_;
  struct cdb_make make_ {};
  bool started_ = false;
};

}  // namespace postern
