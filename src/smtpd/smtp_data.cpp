// smtp_data: see smtp_data.hpp.
#include "smtp_data.hpp"

#include <algorithm>

namespace postern::smtp {

void MessageText::feed(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (s[i] == '\n') {
        out_ += '\n';
        ++i;
        continue;
      }
      crlf_problem(Problem::lone_cr);
    }
    // Text up to the next CR or LF goes out as it is, in one append.
    std::size_t j = i;
    while (j < s.size() && s[j] != '\r' && s[j] != '\n') ++j;
    out_.append(s.data() + i, j - i);
    if (j == s.size()) break;
    if (s[j] == '\r')
      pending_cr_ = true;
    else
      crlf_problem(Problem::bare_lf);
    i = j + 1;
  }
  check();
}

void MessageText::finish() {
  if (pending_cr_) crlf_problem(Problem::lone_cr);
  pending_cr_ = false;
  check();
}

std::string MessageText::take() {
  check();
  std::string s;
  s.swap(out_);
  checked_ = 0;
  return s;
}

void MessageText::crlf_problem(Problem p) {
  if (problem_ != Problem::none) return;
  check();
  set(p);
}

void MessageText::check() {
  std::string_view added = std::string_view(out_).substr(checked_);
  if (problem_ == Problem::none) {
    // Bytes past databytes are too many whatever they hold.
    std::size_t room = added.size();
    if (limits_.max_bytes) room = std::min(room, limits_.max_bytes > size_ ? limits_.max_bytes - size_ : 0);
    rules_.feed(added.substr(0, room));
    switch (rules_.problem()) {
      case message_rules::Problem::none: break;
      case message_rules::Problem::nul: set(Problem::nul); break;
      case message_rules::Problem::header_too_big: set(Problem::header_too_big); break;
      case message_rules::Problem::too_many_hops: set(Problem::too_many_hops); break;
    }
    if (room < added.size()) set(Problem::too_big);
  }
  size_ += added.size();
  if (problem_ != Problem::none) out_.clear();  // nothing more comes out: it will not be queued
  checked_ = out_.size();
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
    case Problem::nul: return std::string(message_rules::describe(message_rules::Problem::nul));
    case Problem::header_too_big:
      return std::string(message_rules::describe(message_rules::Problem::header_too_big));
    case Problem::too_many_hops:
      return std::string(message_rules::describe(message_rules::Problem::too_many_hops));
  }
  return "unknown problem";
}

}  // namespace postern::smtp
