// input: lines from a plain or gzip'd file through zlib (input.hpp).
#include "input.hpp"

#include <unistd.h>
#include <zlib.h>

#include <cstring>

namespace postern::mailstats {

std::optional<std::string> read_lines(int fd, std::size_t max, const std::function<void(std::string_view)>& line,
                                      std::uint64_t& too_long) {
  gzFile gz = ::gzdopen(fd, "rb");
  if (!gz) {
    ::close(fd);
    return std::string("unable to read: ") + std::strerror(errno);
  }
  std::string pending;   // the line so far
  bool skipping = false;  // the line so far was longer than max
  std::string chunk(65536, '\0');
  std::optional<std::string> error;
  for (;;) {
    int n = ::gzread(gz, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* text = ::gzerror(gz, &code);
      error = std::string("broken compressed data: ") + (text ? text : "unknown error");
      break;
    }
    if (n == 0) break;
    std::string_view data(chunk.data(), static_cast<std::size_t>(n));
    while (!data.empty()) {
      auto nl = data.find('\n');
      auto piece = data.substr(0, nl);
      if (!skipping) {
        if (pending.size() + piece.size() > max) {
          skipping = true;
          pending.clear();
        } else {
          pending.append(piece);
        }
      }
      if (nl == std::string_view::npos) break;
      data.remove_prefix(nl + 1);
      if (skipping)
        ++too_long;
      else
        line(pending);
      pending.clear();
      skipping = false;
    }
  }
  if (!error) {
    // zlib reports a gzip file cut short only after the last read.
    int code = 0;
    const char* text = ::gzerror(gz, &code);
    if (code != Z_OK && code != Z_STREAM_END) error = std::string("broken compressed data: ") + (text ? text : "");
  }
  if (skipping)
    ++too_long;
  else if (!pending.empty())
    line(pending);
  ::gzclose(gz);
  return error;
}

}  // namespace postern::mailstats
