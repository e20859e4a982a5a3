// Fuzz target: smtpd's DATA decoding (src/smtpd/smtp_data), fed through
// the real NetIO in pieces the input chooses, as smtpd feeds it. Input:
// [settings "\0\0\0"] bytes after the 354 reply. Checks, against a
// reference written from RFC 5321 alone:
//  - DATA ends exactly at the first CRLF "." CRLF that follows a CRLF (or
//    the DATA command); not one byte more or less is taken;
//  - a bare LF or a lone CR in the message refuses it;
//  - otherwise what comes out is the message with dot stuffing undone and
//    CRLF made LF: so no line "." comes out unless the input had "..".
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "smtpd/smtp_data.hpp"

using postern::NetIO;
using namespace postern::smtp;

namespace {

struct Reference {
  bool ended = false;
  std::size_t consumed = 0;  // bytes up to and including the end line
  bool crlf_problem = false;
  std::string text;  // LF form, dots undone
};

Reference reference(std::string_view in) {
  Reference r;
  std::string s = "\r\n" + std::string(in);
  auto k = s.find("\r\n.\r\n");
  std::string_view msg = in;
  if (k != std::string::npos) {
    r.ended = true;
    r.consumed = k + 3;  // in input coordinates: (k - 2) + 5
    msg = in.substr(0, k);
  }
  bool line_start = true;
  for (std::size_t i = 0; i < msg.size(); ++i) {
    char c = msg[i];
    if (c == '\n' && (i == 0 || msg[i - 1] != '\r')) r.crlf_problem = true;
    if (c == '\r' && (i + 1 >= msg.size() || msg[i + 1] != '\n')) r.crlf_problem = true;
    bool was_start = line_start;
    line_start = c == '\n';
    if (was_start && c == '.') continue;
    if (c == '\r' && i + 1 < msg.size() && msg[i + 1] == '\n') continue;
    r.text += c;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view settings, input;
  fuzz::split_settings(data, size, settings, input);
  Limits limits;
  limits.max_header = 1 << 20;
  limits.max_hops = 1000;
  std::size_t max_piece = 65536;
  std::string_view cuts;
  if (settings.size() >= 4) {
    max_piece = 3 + static_cast<unsigned char>(settings[0]);
    limits.max_bytes = static_cast<unsigned char>(settings[1]) * 8;  // 0: no limit
    limits.max_header = 1 + static_cast<unsigned char>(settings[2]) * 4;
    limits.max_hops = static_cast<unsigned char>(settings[3]) % 8;
    cuts = settings.substr(4);
  }

  fuzz::FeedTransport t(input, cuts);
  NetIO io(t, 1);
  MessageText text(limits);
  DataDecoder dec(text);
  std::string out, piece;
  std::size_t consumed = 0;
  bool ended = false;
  for (;;) {
    auto r = io.line(piece, max_piece);
    if (r != NetIO::Read::line && r != NetIO::Read::partial) break;
    consumed += piece.size();
    if (dec.piece(piece)) {
      ended = true;
      break;
    }
    out += text.take();
  }
  text.finish();
  out += text.take();

  Reference ref = reference(input);
  FUZZ_CHECK(ended == ref.ended, input);
  if (!ended) return 0;  // smtpd drops a message whose connection ended
  FUZZ_CHECK(consumed == ref.consumed, input);
  FUZZ_CHECK(io.buffered() + t.left() == input.size() - consumed, input);
  Problem p = text.problem();
  if (ref.crlf_problem) {
    FUZZ_CHECK(p != Problem::none, input);
    return 0;
  }
  FUZZ_CHECK(p != Problem::bare_lf && p != Problem::lone_cr, input);
  if (p == Problem::none) {
    FUZZ_CHECK(out == ref.text, out);
    FUZZ_CHECK(text.size() == out.size(), out);
    if (limits.max_bytes) FUZZ_CHECK(out.size() <= limits.max_bytes, out);
  } else {
    FUZZ_CHECK(p != Problem::too_big || (limits.max_bytes && ref.text.size() > limits.max_bytes), input);
  }
  return 0;
}
