// Unit tests for src/lib/base/proxy_header: HAProxy's PROXY protocol,
// versions 1 and 2, read a few bytes at a time as proxy-env reads it.
#include <catch2/catch.hpp>

#include <string>

#include "base/proxy_header.hpp"

using namespace postern::proxy_header;

namespace {

// Feeds bytes the way proxy-env does: exactly what parse() asks for.
Result feed(const std::string& wire, std::size_t& taken) {
  std::string got;
  taken = 0;
  for (;;) {
    Result r = parse(got);
    if (r.status != Result::Status::more) return r;
    if (taken + r.more > wire.size()) return r;
    got += wire.substr(taken, r.more);
    taken += r.more;
  }
}

std::string v2(unsigned char cmd, unsigned char fam, const std::string& block) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(0x20 | cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(block.size() >> 8);
  h += static_cast<char>(block.size() & 0xff);
  return h + block;
}

}  // namespace

TEST_CASE("proxy_header: version 1", "[proxy_header]") {
  std::size_t taken = 0;
  std::string wire = "PROXY TCP4 192.0.2.7 198.51.100.2 56324 25\r\nEHLO client\r\n";
  Result r = feed(wire, taken);
  REQUIRE(r.status == Result::Status::done);
  CHECK(taken == wire.find("EHLO"));  // not a byte of the client's
  CHECK(r.proxied);
  CHECK(r.remote_ip == "192.0.2.7");
  CHECK(r.local_ip == "198.51.100.2");
  CHECK(r.remote_port == 56324);
  CHECK(r.local_port == 25);
  r = feed("PROXY TCP6 2001:db8:0:0::1 ::1 1 2\r\n", taken);
  REQUIRE(r.status == Result::Status::done);
  CHECK(r.remote_ip == "2001:db8::1");
  r = feed("PROXY UNKNOWN\r\n", taken);
  CHECK(r.status == Result::Status::done);
  CHECK_FALSE(r.proxied);
  CHECK(feed("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", taken).status == Result::Status::bad);
  CHECK(feed("PROXY TCP4 1.2.3.4 4.5.6.7 1 65536\r\n", taken).status == Result::Status::bad);
  CHECK(feed("PROXY TCP4 1.2.3.4 4.5.6.7 01 2\r\n", taken).status == Result::Status::bad);
  CHECK(feed("EHLO x\r\n", taken).status == Result::Status::bad);
  CHECK(feed("PROXY " + std::string(200, 'x'), taken).status == Result::Status::bad);
  CHECK(feed("PROXY TCP4\n", taken).status == Result::Status::bad);
}

TEST_CASE("proxy_header: version 2", "[proxy_header]") {
  std::size_t taken = 0;
  std::string ipv4 = std::string("\xc0\x00\x02\x07\xc6\x33\x64\x02\xdc\x04\x00\x19", 12) + std::string("\x03\x00\x01x", 4);
  std::string wire = v2(1, 0x11, ipv4) + "EHLO";
  Result r = feed(wire, taken);
  REQUIRE(r.status == Result::Status::done);
  CHECK(taken == wire.size() - 4);
  CHECK(r.remote_ip == "192.0.2.7");
  CHECK(r.local_ip == "198.51.100.2");
  CHECK(r.remote_port == 56324);
  CHECK(r.local_port == 25);
  r = feed(v2(0, 0, ""), taken);  // LOCAL: a health check
  CHECK(r.status == Result::Status::done);
  CHECK_FALSE(r.proxied);
  r = feed(v2(1, 0x31, std::string(216, 'u')), taken);  // AF_UNIX: the connection's own
  CHECK(r.status == Result::Status::done);
  CHECK_FALSE(r.proxied);
  CHECK(feed(v2(1, 0x11, "short"), taken).status == Result::Status::bad);
  CHECK(feed(v2(2, 0x11, ipv4), taken).status == Result::Status::bad);
  std::string huge = v2(1, 0x11, ipv4);
  huge[14] = '\x20';  // 8 KB block announced
  CHECK(feed(huge, taken).status == Result::Status::bad);
}
