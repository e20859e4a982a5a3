// Fuzz target: COMPRESS=DEFLATE's inflating side (src/imapd-mailbox/
// compress), fed what a client sends after COMPRESS DEFLATE, cut anywhere
// and read in pieces of any size. Input: [cut sizes "\0\0\0"] data; data
// starting with 'P' is plain text the target deflates first (raw deflate,
// a sync flush per cut, as a client does), anything else is taken as the
// compressed stream itself. Checks: a read never returns more than asked;
// plain text comes back byte for byte, then end of file; a hostile
// stream ends in an error or end of file, its output bounded by the
// pieces read (a decompression bomb costs nothing but time).
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imapd-mailbox/compress.hpp"

namespace {

std::string deflate_raw(std::string_view text, std::string_view cuts) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  std::size_t next = 0;
  char buf[4096];
  while (!text.empty()) {
    std::size_t n = cuts.empty() ? text.size() : 1 + static_cast<unsigned char>(cuts[next++ % cuts.size()]);
    if (n > text.size()) n = text.size();
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
    text.remove_prefix(n);
  }
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view cuts, rest;
  fuzz::split_settings(data, size, cuts, rest);
  bool plain = !rest.empty() && rest[0] == 'P';
  std::string wire = plain ? deflate_raw(rest.substr(1), cuts) : std::string(rest);
  fuzz::FeedTransport feed(wire, cuts);
  imapd::CompressTransport t(feed);
  FUZZ_CHECK(t.start(), "zlib would not start");
  std::string got;
  std::size_t reads = 0, total = 0;
  char buf[8192];
  for (;;) {
    std::size_t n = cuts.empty() ? sizeof buf : 1 + static_cast<unsigned char>(cuts[reads % cuts.size()]) * 32;
    if (n > sizeof buf) n = sizeof buf;
    ssize_t r = t.read(buf, n, 0);
    ++reads;
    if (r <= 0) {
      FUZZ_CHECK(!plain || r == 0, "an error on a stream the target deflated");
      break;
    }
    FUZZ_CHECK(static_cast<std::size_t>(r) <= n, "a read returned more than asked");
    if (plain) got.append(buf, static_cast<std::size_t>(r));
    total += static_cast<std::size_t>(r);
    if (total > (256u << 20)) break;  // bounded time for a bomb
  }
  if (plain) FUZZ_CHECK(got == rest.substr(1), "plain text did not come back");
  return 0;
}
