// Fuzz target: the queue writer's protocol (src/lib/mail/queue_wire), which
// queued reads from any local user and queue_client reads back. Input: the
// first byte chooses where the rest is cut into reads; the rest is the
// stream. Checks: each frame decoded encodes back to exactly the bytes it
// came from, no frame is over its type's bound, the decoder never holds
// more than one frame and one read, and an X payload that decodes encodes
// back to itself.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/queue_wire.hpp"

using namespace postern::queue_wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = data[0] % 64 + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  Decoder d;
  std::size_t consumed = 0;
  for (std::size_t at = 0; at < in.size(); at += step) {
    d.feed(in.substr(at, step));
    Frame f;
    for (;;) {
      auto r = d.next(f);
      if (r == Decoder::Result::more) break;
      if (r == Decoder::Result::bad) return 0;
      FUZZ_CHECK(f.payload.size() <= max_chunk, in);
      if (f.type != Type::message && f.type != Type::envelope) FUZZ_CHECK(f.payload.size() <= max_text, in);
      std::string again = encode(f.type, f.payload);
      FUZZ_CHECK(in.substr(consumed, again.size()) == again, again);
      consumed += again.size();
      if (f.type == Type::failed) {
        int code = 0;
        std::string text;
        if (decode_failure(f.payload, code, text)) {
          FUZZ_CHECK(code >= 1 && code <= 255, f.payload);
          FUZZ_CHECK(encode_failure(code, text) == again || f.payload[0] == '0', f.payload);
        }
      }
    }
  }
  return 0;
}
