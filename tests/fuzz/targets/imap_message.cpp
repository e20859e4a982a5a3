// Fuzz target: a stored message as IMAP FETCH sees it (src/lib/imap/
// imap_message, imap_envelope, imap_fetch_data): MIME tree, ENVELOPE and
// its address lists, BODYSTRUCTURE, BODY[section], BINARY[section],
// PREVIEW, THREADID and RFC 2047 words. The message is what any sender put
// in a Maildir.
// Input: [section specs, one a line "\0\0\0"] the message as stored (LF).
// Checks: the CRLF conversions agree with each other; every part lies
// inside the text and inside its parent; ENVELOPE and BODYSTRUCTURE are
// balanced IMAP lists (parentheses outside strings and literals) a client
// can parse; a section's bytes come from the message; a preview is at
// most 200 bytes; BINARY of a part that is not decoded is BODY's.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_envelope.hpp"
#include "imap/imap_fetch_data.hpp"
#include "imap/imap_decode.hpp"
#include "imap/imap_message.hpp"

using namespace postern::imap;

namespace {

// Walks an IMAP response fragment: strings and literals skipped, the
// parentheses counted; false when they do not balance or a string or
// literal is cut.
bool balanced(std::string_view s) {
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
      if (i >= s.size()) return false;
    } else if (c == '{') {
      std::size_t close = s.find("}\r\n", i);
      if (close == std::string_view::npos) return false;
      std::string_view digits = s.substr(i + 1, close - i - 1);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
        return false;
      std::size_t n = std::stoul(std::string(digits));
      if (close + 3 + n > s.size()) return false;
      i = close + 2 + n;  // the loop's ++i steps past the literal's last byte
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) return false;
    }
  }
  return depth == 0;
}

void check_part(const Part& p, std::size_t begin, std::size_t end, std::string_view text) {
  FUZZ_CHECK(p.header_begin >= begin && p.header_begin <= p.body_begin && p.body_begin <= p.end && p.end <= end,
             text);
  for (auto& c : p.parts) check_part(c, p.body_begin, p.end, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view specs, stored;
  fuzz::split_settings(data, size, specs, stored);
  std::string crlf = to_crlf(stored);
  FUZZ_CHECK(crlf.size() == crlf_size(stored), stored);
  if (stored.find('\r') == std::string_view::npos) FUZZ_CHECK(to_lf(crlf) == stored, stored);

  Message m(crlf);
  check_part(m.root(), 0, m.text().size(), stored);
  std::string env = m.envelope();
  FUZZ_CHECK(balanced(env) && env.front() == '(', env);
  for (bool ext : {false, true}) {
    std::string bs = m.bodystructure(ext);
    FUZZ_CHECK(balanced(bs) && bs.front() == '(', bs);
  }
  std::string addrs = address_list_out(parse_addresses(m.header()));
  FUZZ_CHECK(balanced(addrs), addrs);
  std::string pv = preview(m);
  FUZZ_CHECK(pv.size() <= 200, pv);
  (void)thread_id(m);
  for (auto name : {"subject", "from", "content-type", "date"}) {
    if (auto v = m.field(name)) (void)decode_header_words(*v);
    for (auto& v : m.fields(name)) (void)decode_header_words(v);
  }
  (void)header_fields(m.header(), {"FROM", "SUBJECT"}, false);
  (void)header_fields(m.header(), {"RECEIVED"}, true);

  std::size_t pos = 0;
  for (int n = 0; n < 20 && pos < specs.size(); ++n) {
    std::size_t nl = specs.find('\n', pos);
    std::string spec(specs.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? specs.size() : nl + 1;
    Parser p(spec);
    auto s = parse_section(p);
    if (!s) continue;
    std::string name = s->name();
    std::string again = name + "]";
    Parser q(again);
    auto s2 = parse_section(q);
    FUZZ_CHECK(s2 && s2->name() == name, name);
    std::string bytes = m.section(*s);
    FUZZ_CHECK(bytes.size() <= m.text().size() + 2, name);
    bool decoded = false;
    auto bin = binary_section(m, *s, decoded);
    if (bin && !decoded && (!s->spec.empty() || s->path.empty())) FUZZ_CHECK(*bin == bytes, name);
    // A decoded part's header may say "binary" in a field a byte or two
    // longer than the one it had; its body only shrinks.
    FUZZ_CHECK(!bin || bin->size() <= 2 * m.text().size() + 2, name);
  }
  return 0;
}
