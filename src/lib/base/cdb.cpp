// cdb: see cdb.hpp.
#include "base/cdb.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace postern {

bool CdbReader::open(const std::string& path) {
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_.ok()) return false;
  if (cdb_init(&db_, fd_.get()) != 0) {
    fd_.reset();
    if (errno == 0) errno = EINVAL;
    return false;
  }
  open_ = true;
  return true;
}

CdbReader::~CdbReader() {
  if (open_) cdb_free(&db_);
}

std::optional<std::string> CdbReader::find(std::string_view key) {
  error_ = false;
  if (!open_) return std::nullopt;
  int r = cdb_find(&db_, key.data(), static_cast<unsigned>(key.size()));
  if (r < 0) error_ = true;
  if (r <= 0) return std::nullopt;
  unsigned len = cdb_datalen(&db_);
  std::string value(len, '\0');
  if (cdb_read(&db_, value.data(), len, cdb_datapos(&db_)) != 0) {
    error_ = true;
    return std::nullopt;
  }
  return value;
}

bool CdbWriter::start(const std::string& path, int mode) {
  path_ = path;
  tmp_ = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp_.c_str());
  fd_.reset(::open(tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd_.ok()) {
    tmp_.clear();
    return false;
  }
  if (::fchmod(fd_.get(), static_cast<mode_t>(mode)) != 0) return false;
  if (cdb_make_start(&make_, fd_.get()) != 0) return false;
  started_ = true;
  return true;
}

bool CdbWriter::add(std::string_view key, std::string_view value) {
  return started_ && cdb_make_add(&make_, key.data(), static_cast<unsigned>(key.size()), value.data(),
                                  static_cast<unsigned>(value.size())) == 0;
}

bool CdbWriter::set_group(gid_t group) { return started_ && ::fchown(fd_.get(), static_cast<uid_t>(-1), group) == 0; }

bool CdbWriter::finish() {
  if (!started_) return false;
  started_ = false;
  if (cdb_make_finish(&make_) != 0 || ::fsync(fd_.get()) != 0) return false;
  fd_.reset();
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return false;
  tmp_.clear();
  return fsync_dir(dir_of(path_));
}

CdbWriter::~CdbWriter() {
  if (started_) cdb_make_finish(&make_);  // frees its memory; the file is discarded
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

}  // namespace postern
