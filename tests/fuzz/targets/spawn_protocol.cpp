// Fuzz target: the spawn protocol (src/lib/mail/spawn_protocol): the
// requests lspawn and rspawn read from send, and the reports send reads
// back from them (written by the less trusted delivery side). Input: one
// record, read both as a request and as a report. Checks: what decodes
// encodes to a record that decodes to the same thing, within the size
// bounds that keep reports atomic on the pipe.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/spawn_protocol.hpp"

using namespace postern::spawn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = decode_request(in)) {
    FUZZ_CHECK(!r->targets.empty() && r->targets.size() <= max_recipients, in);
    std::string again = encode(*r);
    FUZZ_CHECK(again.size() <= in.size(), again);
    auto r2 = decode_request(again);
    FUZZ_CHECK(r2 && r2->id == r->id && r2->sender == r->sender && r2->targets.size() == r->targets.size(), again);
    for (std::size_t i = 0; i < r->targets.size(); ++i)
      FUZZ_CHECK(r2->targets[i].delnum == r->targets[i].delnum && r2->targets[i].recipient == r->targets[i].recipient,
                 again);
  }
  if (auto p = decode_report(in)) {
    FUZZ_CHECK(p->result == 'K' || p->result == 'Z' || p->result == 'D', in);
    std::string again = encode(*p);
    FUZZ_CHECK(again.size() <= report_max, again);
    auto p2 = decode_report(again);
    FUZZ_CHECK(p2 && p2->delnum == p->delnum && p2->result == p->result, again);
    // The text is made printable and cut when encoded; a second encoding
    // may cut a few bytes more, a third nothing.
    auto p3 = decode_report(encode(*p2));
    FUZZ_CHECK(p3 && encode(*p3) == encode(*p2), again);
  }
  return 0;
}
