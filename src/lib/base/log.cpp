// log: see log.hpp.
#include "base/log.hpp"

#include <cstdlib>
#include <unistd.h>

#include "base/io.hpp"

namespace postern::log {

static std::string program = "postern";

void set_program(std::string_view name) { program = name; }

void write_line(std::string_view text) {
  std::string out = program + ": " + printable(text, 2000) + "\n";
  write_all(2, out);
}

void die(int code, std::string_view text) {
  write_line(std::string("fatal: ") + std::string(text));
  std::_Exit(code);
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (c < 32 || c == 127) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string kv(std::string_view key, std::string_view value, std::size_t max) {
  std::string v = printable(value, max);
  std::string out(key);
  out += '=';
  if (!v.empty() && v.find_first_of(" \"\\") == std::string::npos) return out + v;
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

}  // namespace postern::log
