// Fuzz target: what send reads for queuectl and sendmail -qR/-qS/-qI
// (src/lib/mail/queue_request). Input: the bytes of the trigger fifo, which
// any local user may write, and the same bytes as a request file. Checks:
// every flush line taken is a valid selector whose own line reads back as
// it, however the bytes are cut into reads; a request file that decodes
// has valid selectors and encodes back to a request that decodes the same.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/queue_request.hpp"

using namespace postern;
namespace qr = postern::queue_request;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  qr::FlushReader whole, bytewise;
  whole.feed(in.data(), in.size());
  for (char c : in) bytewise.feed(&c, 1);
  auto a = whole.take(), b = bytewise.take();
  FUZZ_CHECK(a.size() == b.size(), in);
  for (std::size_t i = 0; i < a.size(); ++i) {
    FUZZ_CHECK(qr::valid_selector(a[i]), in);
    FUZZ_CHECK(a[i].kind == b[i].kind && a[i].value == b[i].value, in);
    std::string line = qr::flush_line(a[i]);
    FUZZ_CHECK(line.find('R') == std::string::npos, line);
    qr::FlushReader again;
    again.feed(line.data(), line.size());
    auto c = again.take();
    FUZZ_CHECK(c.size() == 1 && c[0].kind == a[i].kind && c[0].value == a[i].value, line);
  }

  if (auto r = qr::decode(in)) {
    for (auto& s : r->selectors) FUZZ_CHECK(qr::valid_selector(s), in);
    auto r2 = qr::decode(qr::encode(*r));
    FUZZ_CHECK(r2 && r2->action == r->action && r2->selectors.size() == r->selectors.size(), in);
  }
  return 0;
}
