// proxy_header: PROXY protocol versions 1 and 2 (proxy_header.hpp).
#include "base/proxy_header.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>
#include <vector>

namespace postern::proxy_header {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::string_view v2_sig("\r\n\r\n\0\r\nQUIT\n", 12);

Result bad(std::string why) {
  Result r;
  r.status = Result::Status::bad;
  r.why = std::move(why);
  return r;
}

Result more(std::size_t n) {
  Result r;
  r.more = n;
  return r;
}

bool port(std::string_view s, unsigned& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  auto e = std::from_chars(s.data(), s.data() + s.size(), out);
  return e.ec == std::errc() && e.ptr == s.data() + s.size() && out <= 65535;
}

bool address(std::string_view s, int family) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  unsigned char buf[16];
  return ::inet_pton(family, std::string(s).c_str(), buf) == 1;
}

std::string text_of(const unsigned char* a, int family) {
  char out[INET6_ADDRSTRLEN];
  if (!::inet_ntop(family, a, out, sizeof out)) return {};
  std::string s = out;
  if (s.starts_with("::ffff:") && s.find('.') != std::string::npos) s = s.substr(7);
  return s;
}

Result v1(std::string_view in) {
  auto end = in.find("\r\n");
  if (end == std::string_view::npos) {
    if (in.size() >= max_v1) return bad("a version 1 header longer than 107 bytes");
    if (in.find('\n') != std::string_view::npos || in.find('\0') != std::string_view::npos)
      return bad("a version 1 header with a bare LF or a NUL");
    return more(1);
  }
  if (end + 2 != in.size()) return bad("bytes after the header");  // never read past it
  std::vector<std::string_view> w;
  std::string_view line = in.substr(v1_prefix.size(), end - v1_prefix.size());
  for (std::size_t i = 0; i <= line.size();) {
    auto sp = line.find(' ', i);
    if (sp == std::string_view::npos) sp = line.size();
    w.push_back(line.substr(i, sp - i));
    i = sp + 1;
  }
  Result r;
  r.status = Result::Status::done;
  r.version = 1;
  if (!w.empty() && w[0] == "UNKNOWN") return r;
  if (w.size() != 5 || (w[0] != "TCP4" && w[0] != "TCP6")) return bad("not PROXY TCP4, TCP6 or UNKNOWN");
  int family = w[0] == "TCP4" ? AF_INET : AF_INET6;
  if (!address(w[1], family) || !address(w[2], family)) return bad("an address that is not one");
  if (!port(w[3], r.remote_port) || !port(w[4], r.local_port)) return bad("a port that is not one");
  r.proxied = true;
  r.remote_ip = std::string(w[1]);
  r.local_ip = std::string(w[2]);
  if (family == AF_INET6) {  // as getnameinfo writes them: canonical text
    unsigned char a[16], b[16];
    ::inet_pton(AF_INET6, r.remote_ip.c_str(), a);
    ::inet_pton(AF_INET6, r.local_ip.c_str(), b);
    r.remote_ip = text_of(a, AF_INET6);
    r.local_ip = text_of(b, AF_INET6);
  }
  return r;
}

Result v2(std::string_view in) {
  if (in.size() < 16) return more(16 - in.size());
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
  unsigned ver = byte(12) >> 4, cmd = byte(12) & 0x0f;
  if (ver != 2) return bad("version 2's signature with another version");
  if (cmd > 1) return bad("a command that is neither LOCAL nor PROXY");
  std::size_t len = (static_cast<std::size_t>(byte(14)) << 8) | byte(15);
  if (len > max_v2_block) return bad("an address block over 4096 bytes");
  if (in.size() < 16 + len) return more(16 + len - in.size());
  if (in.size() > 16 + len) return bad("bytes after the header");
  Result r;
  r.status = Result::Status::done;
  r.version = 2;
  if (cmd == 0) return r;  // LOCAL: the proxy's own connection (a health check)
  unsigned family = byte(13) >> 4, transport = byte(13) & 0x0f;
  const unsigned char* a = reinterpret_cast<const unsigned char*>(in.data()) + 16;
  if (transport != 1 || (family != 1 && family != 2)) return r;  // not TCP over IP: keep the connection's own
  std::size_t n = family == 1 ? 4 : 16;
  if (len < 2 * n + 4) return bad("an address block too short for its family");
  int af = family == 1 ? AF_INET : AF_INET6;
  r.remote_ip = text_of(a, af);
  r.local_ip = text_of(a + n, af);
  r.remote_port = (static_cast<unsigned>(a[2 * n]) << 8) | a[2 * n + 1];
  r.local_port = (static_cast<unsigned>(a[2 * n + 2]) << 8) | a[2 * n + 3];
  if (r.remote_ip.empty() || r.local_ip.empty()) return bad("an address that is not one");
  r.proxied = true;
  return r;
}

}  // namespace

Result parse(std::string_view in) {
  if (in.empty()) return more(v1_prefix.size());
  if (in[0] == 'P') {
    std::size_t k = std::min(in.size(), v1_prefix.size());
    if (in.substr(0, k) != v1_prefix.substr(0, k)) return bad("no PROXY header");
    if (in.size() < v1_prefix.size()) return more(v1_prefix.size() - in.size());
    return v1(in);
  }
  if (in[0] == '\r') {
    std::size_t k = std::min(in.size(), v2_sig.size());
    if (in.substr(0, k) != v2_sig.substr(0, k)) return bad("no PROXY header");
    return v2(in);
  }
  return bad("no PROXY header");
}

}  // namespace postern::proxy_header
