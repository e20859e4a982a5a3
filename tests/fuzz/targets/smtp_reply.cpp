// Fuzz target: remote's reading of SMTP replies and of the extensions an
// EHLO reply names (read_reply and parse_ehlo in src/remote/reply.cpp):
// whatever the server on the other end sends, STARTTLS offers included.
// Input: [cut sizes "\0\0\0"] the server's bytes. Replies are read until
// one fails. Checks: a reply with a code has a real one (three digits,
// 100-599, as its last line starts), at most 100 lines, and its text
// (which goes into bounces and logs) holds no line break; a SIZE limit is
// never negative, and STARTTLS is only ever found on a line of its own.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "remote/reply.hpp"

using postern::NetIO;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view cuts, input;
  fuzz::split_settings(data, size, cuts, input);
  fuzz::FeedTransport t(input, cuts);
  NetIO io(t, 1);
  for (int n = 0; n < 1000; ++n) {
    auto r = postern::remote::read_reply(io);
    FUZZ_CHECK(r.text.find('\n') == std::string::npos, r.text);
    if (r.code == 0) break;
    FUZZ_CHECK(r.code >= 100 && r.code <= 599, r.text);
    FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= 100, r.text);
    // The code is the last line's (a server may change it between lines).
    std::string code = std::to_string(r.code);
    FUZZ_CHECK(r.text.compare(0, 3, code) == 0 || r.text.rfind(" / " + code) != std::string::npos, r.text);
    auto ext = postern::remote::parse_ehlo(r);
    FUZZ_CHECK(ext.max_size >= 0, r.text);
    if (ext.starttls) {
      bool own_line = false;
      for (std::size_t i = 1; i < r.lines.size(); ++i) {
        std::string l;
        for (char c : r.lines[i])
          if (c != ' ' && c != '\t' && c != '\r' && c != '\n') l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        own_line |= l == "starttls";
      }
      FUZZ_CHECK(own_line, r.text);
    }
  }
  return 0;
}
