// smtp_data: see smtp_data.hpp.
#include "smtp_data.hpp"

namespace postern::smtp {

void MessageText::feed(std::string_view s) {
  for (char c : s) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        emit('\n');
        continue;
      }
      set(Problem::lone_cr);
    }
    if (c == '\r') {
      pending_cr_ = true;
    } else if (c == '\n') {
      set(Problem::bare_lf);
    } else {
      emit(c);
    }
  }
}

void MessageText::finish() {
  if (pending_cr_) set(Problem::lone_cr);
  pending_cr_ = false;
}

std::string MessageText::take() {
  std::string s;
  s.swap(out_);
  return s;
}

void MessageText::emit(char c) {
  ++size_;
  if (limits_.max_bytes && size_ > limits_.max_bytes) set(Problem::too_big);
  if (in_header_) header_byte(c);
  if (problem_ == Problem::none) out_ += c;
}

// A field starts with printable characters other than ':' (perhaps white
// space, an obsolete form) and then ':'; a continuation with space or tab.
// The header ends at an empty line or at a line that is neither.
void MessageText::header_byte(char c) {
  if (++header_bytes_ > limits_.max_header) set(Problem::header_too_big);
  if (c == '\n') {
    if (field_ && (head_.rfind("received:", 0) == 0 || head_.rfind("delivered-to:", 0) == 0)) {
      if (++hops_ > limits_.max_hops) set(Problem::too_many_hops);
    }
    if (col_ == 0 || !field_) in_header_ = false;
    col_ = 0;
    head_.clear();
    field_ = not_field_ = space_ = false;
    return;
  }
  auto u = static_cast<unsigned char>(c);
  if (col_ == 0 && (c == ' ' || c == '\t')) {
    field_ = true;  // a continuation line
  } else if (!field_ && !not_field_) {
    if (c == ':') {
      (col_ > 0 ? field_ : not_field_) = true;
    } else if (c == ' ' || c == '\t') {
      space_ = true;  // "Name :" is the obsolete form of a field
    } else if (u < 33 || u > 126 || space_) {
      not_field_ = true;
    }
  }
  if (head_.size() < 16) head_ += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  ++col_;
}

bool DataDecoder::piece(std::string_view p) {
  if (p.empty()) return false;
  bool whole = p.back() == '\n';
  bool crlf_end = whole && (p.size() >= 2 ? p[p.size() - 2] == '\r' : last_ == '\r');
  if (line_start_ && after_crlf_ && p == ".\r\n") return true;
  std::string_view text = p;
  if (line_start_ && text.front() == '.') text.remove_prefix(1);
  text_.feed(text);
  if (whole) after_crlf_ = crlf_end;
  line_start_ = whole;
  last_ = p.back();
  return false;
}

std::string problem_text(Problem p) {
  switch (p) {
    case Problem::none: return "no problem";
    case Problem::bare_lf: return "a bare LF in the message";
    case Problem::lone_cr: return "a lone CR in the message";
    case Problem::too_big: return "the message is too big";
    case Problem::header_too_big: return "the header is too big";
    case Problem::too_many_hops: return "too many Received or Delivered-To fields (a mail loop?)";
  }
  return "unknown problem";
}

}  // namespace postern::smtp
