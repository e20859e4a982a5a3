// message_rules: see message_rules.hpp. The header is read one byte at a
// time with the state of the current line only, so a line of any length
// is decided as soon as one byte shows what it is; the body is only
// searched for NUL.
#include "mail/message_rules.hpp"

#include <cstring>

namespace postern::message_rules {

namespace {

constexpr std::size_t max_line = 998;

bool name_byte(char c) { return c > 32 && c < 127 && c != ':'; }
bool space(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

}  // namespace

std::string_view describe(Problem p) {
  switch (p) {
    case Problem::none: return "no problem";
    case Problem::nul: return "the message contains a NUL byte";
    case Problem::header_too_big: return "the header is larger than 256 KB";
    case Problem::too_many_hops: return "too many Received or Delivered-To fields (a mail loop?)";
  }
  return "unknown problem";
}

void Checker::feed(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && in_header_) header_byte(text[i++]);
  if (i < text.size() && std::memchr(text.data() + i, '\0', text.size() - i)) set(Problem::nul);
}

// The states mirror header::is_field_start, is_continuation and is_blank:
// a field is name bytes, perhaps white space, then ':'; a continuation
// starts with space or tab, follows a field and is not blank; a blank line
// (white space and CR only) ends the header; any other line is the body.
// One bound more: RFC 5322 limits a line to 998 bytes, so what has no colon
// by then is no field. A long first line of a message with no header is
// then the body at once, not a header too big.
void Checker::header_byte(char c) {
  if (c == '\0') set(Problem::nul);
  if (++header_bytes_ > header_limit_) set(Problem::header_too_big);
  line_bytes_ = line_ == Line::start ? 1 : line_bytes_ + 1;
  if ((line_ == Line::name || line_ == Line::after_name) && line_bytes_ > max_line) return end_header();
  switch (line_) {
    case Line::start:
      name_.clear();
      if (c == '\n') return end_header();
      if (space(c)) {
        line_ = Line::continuation;
      } else if (c == '\r') {
        line_ = Line::blank;
      } else if (name_byte(c)) {
        line_ = Line::name;
        name_ += lower(c);
      } else {
        end_header();
      }
      return;
    case Line::name:
      if (name_byte(c)) {
        if (name_.size() < 16) name_ += lower(c);
        return;
      }
      if (space(c)) {
        line_ = Line::after_name;
        return;
      }
      [[fallthrough]];
    case Line::after_name:
      if (space(c)) return;
      if (c != ':') return end_header();
      any_field_ = true;
      line_ = Line::field;
      if ((name_ == "received" || name_ == "delivered-to") && ++hops_ > hop_limit_) set(Problem::too_many_hops);
      return;
    case Line::continuation:
    case Line::blank:
      if (c == '\n') return end_header();
      if (space(c) || c == '\r') return;
      // Non-white space: a continuation of the field before, or the body.
      if (line_ == Line::blank || !any_field_) return end_header();
      line_ = Line::field;
      return;
    case Line::field:
      if (c == '\n') line_ = Line::start;
      return;
  }
}

}  // namespace postern::message_rules
