// Fuzz target: MIME decoding (src/lib/imap/imap_decode), which reads the
// bodies and header values of any message in a Maildir for SEARCH and
// FETCH BINARY. Input: [encoding and charset, "\n"-separated, "\0\0\0"]
// the bytes to decode. Checks: base64 output is at most 3/4 of the input,
// quoted-printable output at most twice its input (a bare LF becomes CRLF), identity encodings
// return their input; RFC 2047 decoding of text without "=?" is the text
// itself; charset output is at most 3 bytes per input byte plus a constant.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_decode.hpp"

using namespace postern::imap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view settings, text;
  fuzz::split_settings(data, size, settings, text);
  std::string_view encoding = settings.substr(0, settings.find('\n'));
  std::string_view charset;
  if (auto nl = settings.find('\n'); nl != std::string_view::npos) charset = settings.substr(nl + 1);

  for (std::string_view enc : {std::string_view("base64"), std::string_view("quoted-printable"),
                               std::string_view("7bit"), encoding}) {
    auto out = decode_transfer(text, enc);
    if (enc == "base64") FUZZ_CHECK(out && out->size() <= text.size() / 4 * 3 + 2, text);
    if (enc == "quoted-printable") FUZZ_CHECK(out && out->size() <= 2 * text.size(), text);
    if (enc == "7bit") FUZZ_CHECK(out && *out == text, text);
  }
  std::string words = decode_header_words(text);
  if (text.find("=?") == std::string_view::npos) FUZZ_CHECK(words == text, text);
  for (std::string_view cs : {std::string_view("iso-8859-1"), std::string_view("iso-2022-jp"),
                              std::string_view("utf-16"), charset}) {
    std::string u = to_utf8(text, cs);
    FUZZ_CHECK(u.size() <= text.size() * 4 + 64, text);
    if (cs == "iso-8859-1") FUZZ_CHECK(u.size() >= text.size() && u.size() <= 2 * text.size(), text);
  }
  return 0;
}
