// reply: see reply.hpp.
#include "reply.hpp"

#include <cctype>
#include <algorithm>
#include <cstdlib>

#include "base/strings.hpp"

namespace postern::remote {

Reply read_reply(NetIO& io) {
  Reply r;
  for (int lines = 0; lines < 100; ++lines) {
    std::string line;
    auto got = io.line(line, 4096);
    if (got == NetIO::Read::timeout) return Reply{0, "the remote host stopped answering (timeout)", {}};
    if (got != NetIO::Read::line && got != NetIO::Read::partial)
      return Reply{0, r.text.empty() ? "the connection was lost" : r.text, {}};
    std::string_view l = chomp(line);
    // Three digits, then a space, a '-' or nothing (RFC 5321 4.2): "9.9"
    // or "2500" is no reply code.
    auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(l[i])) != 0; };
    if (l.size() < 3 || !digit(0) || !digit(1) || !digit(2) || l[0] < '1' || l[0] > '5' ||
        (l.size() > 3 && l[3] != ' ' && l[3] != '-'))
      return Reply{0, "a malformed reply: " + std::string(l), {}};
    if (!r.text.empty()) r.text += " / ";
    r.text += std::string(l);
    r.lines.emplace_back(l.size() > 4 ? l.substr(4) : "");
    if (l.size() == 3 || l[3] != '-') {
      r.code = std::atoi(std::string(l.substr(0, 3)).c_str());
      return r;
    }
  }
  return Reply{0, "a reply of more than 100 lines", {}};
}

Extensions parse_ehlo(const Reply& ehlo) {
  Extensions e;
  // The first line greets; only the lines after it name extensions (a
  // server called "starttls.example" offers nothing by its name).
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string kw = lower(trim(ehlo.lines[i]));
    if (kw == "pipelining") e.pipelining = true;
    if (kw == "8bitmime") e.eight_bit = true;
    if (kw == "starttls") e.starttls = true;
    if (kw == "smtputf8") e.smtputf8 = true;
    if (kw.rfind("size ", 0) == 0 && kw.size() > 5) {
      // A limit beyond what a long holds is no limit we can honour
      // exactly; it is also far beyond any message, so it counts as none.
      e.max_size = static_cast<long>(std::min<unsigned long>(to_number(kw.substr(5)).value_or(0), 1ul << 62));
    }
  }
  return e;
}

}  // namespace postern::remote
