// input: reads a log file line by line, plain or gzip'd (zlib tells them
// apart by the gzip magic, so a .gz need not be named so). A line longer
// than the caller's bound is skipped and counted, never held whole: memory
// stays bounded whatever the file holds. Returns an error text when the
// file cannot be opened or its compressed data is broken.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace postern::mailstats {

// Calls line for every line of fd (without its newline, at most max bytes;
// a last line without a newline counts too); adds one to too_long for each
// longer line. Takes fd over and closes it. nullopt when all was read,
// else what went wrong (lines before it were read).
std::optional<std::string> read_lines(int fd, std::size_t max, const std::function<void(std::string_view)>& line,
                                      std::uint64_t& too_long);

}  // namespace postern::mailstats
