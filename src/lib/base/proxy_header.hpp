// proxy_header: the PROXY protocol header (HAProxy's, versions 1 and 2)
// that a proxy in front of a server sends before the client's first byte,
// naming the client it accepted the connection from. Read by proxy-env(8).
//
// parse() is given the bytes read so far and says whether the header is
// complete, is not a header, or needs more bytes, and how many more at
// least: a reader that reads exactly that many never takes a byte of the
// client's own stream. Version 1 is a text line of at most 107 bytes
// ("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"); version 2 a 16-byte
// binary header and an address block of at most max_v2_block bytes (TLVs
// after the addresses are skipped). Pure, trusts nothing it is given.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace postern::proxy_header {

inline constexpr std::size_t max_v1 = 107;
inline constexpr std::size_t max_v2_block = 4096;

struct Result {
  enum class Status { more, done, bad } status = Status::more;
  std::size_t more = 0;  // with more: bytes still needed, at least
  // With done: the client's addresses, or none when the proxy said the
  // connection is its own (v1 UNKNOWN, v2 LOCAL or an unknown family).
  bool proxied = false;
  std::string remote_ip, local_ip;
  unsigned remote_port = 0, local_port = 0;
  int version = 0;
  std::string why;  // with bad
};

Result parse(std::string_view so_far);

}  // namespace postern::proxy_header
