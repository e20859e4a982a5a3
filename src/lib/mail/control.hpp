// control: reading the files in conf-home/control, one setting a file, with
// qmail's rules: leading and trailing white space is ignored, lines starting
// with '#' and empty lines are comments, a missing file means the default.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace postern::control {

// The first meaningful line of control/name, or fallback when the file is
// missing or has none. Returns nullopt only when the file exists but cannot
// be read (the caller must then fail temporarily, not guess).
std::optional<std::string> line(const std::string& name, const std::string& fallback);

// Every meaningful line of control/name (empty when missing); nullopt when
// the file exists but cannot be read.
std::optional<std::vector<std::string>> lines(const std::string& name);

// A number from control/name, or fallback; nullopt on an unreadable file or
// a line that is not a number.
std::optional<unsigned long> number(const std::string& name, unsigned long fallback);

// The same, with why set on failure to a sentence naming the file and what
// is wrong: "unable to read control/databytes: Permission denied", or
// "control/databytes holds \"12x\", which is not a number".
std::optional<std::string> line(const std::string& name, const std::string& fallback, std::string& why);
std::optional<std::vector<std::string>> lines(const std::string& name, std::string& why);
std::optional<unsigned long> number(const std::string& name, unsigned long fallback, std::string& why);

// The same rules applied to a file at any path.
std::optional<std::vector<std::string>> lines_of_file(const std::string& path);

}  // namespace postern::control
