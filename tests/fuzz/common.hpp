// common: what the fuzz targets share. A Transport that hands the fuzz
// input to NetIO in pieces of the sizes the input itself chooses and throws
// the replies away; a check that aborts (so libFuzzer keeps the input) with
// a message; a throwaway directory. Trusts nothing but the code under test's
// headers; returns nothing to the library code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/netio.hpp"

namespace fuzz {

// An invariant of the code under test failed: says which on the standard
// error the target started with (libFuzzer's -close_fd_mask=2 closes
// the code's own) and aborts, so libFuzzer keeps the input.
[[noreturn]] void fail(const char* what, std::string_view detail = {});
#define FUZZ_CHECK(cond, detail) \
  do {                           \
    if (!(cond)) ::fuzz::fail(#cond, detail); \
  } while (0)

// Reads the input in pieces whose sizes come from a second stream of bytes
// (so a CRLF may be cut anywhere, as TCP may cut it); writes vanish, but
// are counted so a target can bound them. Never times out: at the end of
// the input it reports end of file.
class FeedTransport : public postern::Transport {
 public:
  FeedTransport(std::string_view input, std::string_view cuts) : in_(input), cuts_(cuts) {}
  ssize_t read(char* buf, std::size_t n, int) override {
    if (in_.empty()) return 0;
    std::size_t want = 1 + (cuts_.empty() ? 4095 : static_cast<unsigned char>(cuts_[next_++ % cuts_.size()]) * 16);
    if (want > n) want = n;
    if (want > in_.size()) want = in_.size();
    in_.copy(buf, want);
    in_.remove_prefix(want);
    return static_cast<ssize_t>(want);
  }
  bool write(std::string_view data, int) override {
    written_ += data.size();
    if (keep_) out_.append(data);
    return true;
  }
  void keep_output(bool keep) { keep_ = keep; }
  const std::string& output() const { return out_; }
  std::size_t written() const { return written_; }
  std::size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
  std::string_view cuts_;
  std::size_t next_ = 0;
  std::size_t written_ = 0;
  bool keep_ = false;
  std::string out_;
};

// Splits the fuzz input at its first "\0\0\0": the part before drives the
// cut sizes (or, for some targets, settings), the rest is the data. Without
// the marker, no settings and the whole input is data.
inline void split_settings(const std::uint8_t* data, std::size_t size, std::string_view& settings,
                           std::string_view& rest) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  auto m = all.find(std::string_view("\0\0\0", 3));
  if (m == std::string_view::npos) {
    settings = {};
    rest = all;
  } else {
    settings = all.substr(0, m);
    rest = all.substr(m + 3);
  }
}

// A directory of its own under TMPDIR (else /dev/shm, else /tmp), made
// once per process and removed at exit.
const std::string& scratch_dir();
// Removes path and everything under it (no symbolic links are followed).
void remove_tree(const std::string& path);
// Copies the directory tree from into to (which must not exist).
void copy_tree(const std::string& from, const std::string& to);
// Writes text into path, making the file.
void write_file(const std::string& path, std::string_view text);

}  // namespace fuzz
