// io: file descriptors and the few ways postern reads and writes them.
// Every read is bounded by the caller; every write either completes or
// reports an errno. Nothing here throws; failures come back as bool/optional
// with errno set, so the caller handles them on the line where they happen.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace postern {

// An owned file descriptor, closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Writes all of data, retrying on EINTR and short writes.
bool write_all(int fd, std::string_view data);

// Appends what one read(2) of at most 16 KB gives (retried on EINTR) to
// buf; sets eof at end of file. False on a read error.
bool read_append(int fd, std::string& buf, bool& eof);

// Reads up to max bytes until end of file. Returns nullopt on a read error
// or when the input is longer than max (errno = EFBIG).
std::optional<std::string> read_all(int fd, std::size_t max);

// Reads a whole file, at most max bytes; nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path, std::size_t max = 1 << 20);

// Reads a file that must be a regular file, at most max bytes, without
// following a symlink at its last component and without blocking on a
// FIFO or device planted under its name (errno ELOOP or EINVAL then).
// For files in directories others may write, such as a user's Maildir.
std::optional<std::string> read_regular_file(const std::string& path, std::size_t max = 1 << 20);

// Writes path atomically: a temporary file beside it, fsync, rename, and
// an fsync of the directory. Readers see the old or the new file, never half.
// The temporary file is always created new (O_EXCL, O_NOFOLLOW).
// With durable false the fsyncs are skipped: for records that can be rebuilt.
bool write_file_atomic(const std::string& path, std::string_view data, int mode = 0644, bool durable = true);

// fsync()s a directory so the names created or removed in it are durable.
bool fsync_dir(const std::string& dir);

// The directory part of a path ("." when there is none).
std::string dir_of(const std::string& path);

// Buffered reading of lines from a descriptor, each at most `max_line`
// bytes. Lines longer than that are reported as too long rather than grown
// without bound.
class LineReader {
 public:
  enum class Result { line, eof, too_long, error };
  LineReader(int fd, std::size_t max_line) : fd_(fd), max_(max_line) {}
  // Reads through the next '\n' (included in line when present). At end of
  // file a last unterminated line is returned as a line, then eof.
  Result next(std::string& line);
  // Bytes buffered but not yet returned.
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  bool fill();
  int fd_;
  std::size_t max_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t scanned_ = 0;  // bytes before this hold no '\n' past pos_
  bool eof_ = false;
};

}  // namespace postern
