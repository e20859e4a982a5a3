// log: one line per event, written with a single write(2) to stderr, which
// start connects to the logger. A line is "program: text"; newlines inside
// the text are replaced so one event is always one line. Lines that tools
// parse (send's and smtpd's per-message lines) are key=value fields made
// by kv(), the one place their quoting is decided.
#pragma once
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace postern::log {

// Sets the program name that prefixes each line.
void set_program(std::string_view name);
void write_line(std::string_view text);

template <typename... Args>
void line(fmt::format_string<Args...> f, Args&&... args) {
  write_line(fmt::format(f, std::forward<Args>(args)...));
}

// Writes "program: fatal: text" and exits with code.
[[noreturn]] void die(int code, std::string_view text);

// Printable form of untrusted bytes for a log line: control bytes escaped.
std::string printable(std::string_view s, std::size_t max = 400);

// One field of a parsable line, "key=value": the value made printable
// (bounded by max) and put in double quotes, with \" and \\ inside, when
// it is empty or holds a space, a quote or a backslash, so that a field
// ends at the first space outside quotes whatever the value held.
std::string kv(std::string_view key, std::string_view value, std::size_t max = 400);

}  // namespace postern::log
