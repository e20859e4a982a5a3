// message_rules: what the text of a new message must satisfy to enter the
// queue, one rule for both ways in: smtpd (over SMTP) and inject (from a
// local user, and so sendmail). Trusts nothing about the bytes it is fed;
// it keeps a few counters, never the text, so any input costs constant
// memory. Returns the first problem found, and a sentence for it.
//
//  - No NUL byte anywhere. RFC 5322 text, RFC 2045's 7bit and 8bit (all
//    that 8BITMIME allows) exclude it; mbox, IMAP clients and the delivery
//    programs treat it as the end of a string. Postfix admins get the same
//    with message_reject_characters = \0.
//  - A header of at most max_header bytes (256 KB), however they are cut
//    into lines: a single 1 MB header line is refused, as are 400 lines of
//    1000 bytes. Lines of any length are fine in the body.
//  - At most max_hops Received: and Delivered-To: fields in the header: more
//    is a mail loop (Postfix's hopcount_limit, for every way in).
//
// The header ends where header::split_message ends it (mail/header.hpp): at
// a blank line (white space only), or at the first line that is neither a
// field nor the continuation of one. That line, however long, is the body;
// a line with no colon in its first 998 bytes (RFC 5322's longest line) is
// no field.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace postern::message_rules {

constexpr std::size_t max_header = 256 * 1024;
constexpr int max_hops = 100;

enum class Problem { none, nul, header_too_big, too_many_hops };

// A short sentence for a log line or an error message, e.g. "the message
// contains a NUL byte".
std::string_view describe(Problem p);

class Checker {
 public:
  explicit Checker(std::size_t header_limit = max_header, int hop_limit = max_hops)
      : header_limit_(header_limit), hop_limit_(hop_limit) {}
  // The next bytes of the message, from its first byte, with LF line ends
  // (a CR is white space, as header.hpp takes it). Any cut into pieces
  // gives the same result.
  void feed(std::string_view text);
  // The first problem seen; later ones are not reported.
  Problem problem() const { return problem_; }
  bool in_header() const { return in_header_; }
  std::size_t header_bytes() const { return header_bytes_; }
  int hops() const { return hops_; }

 private:
  void header_byte(char c);
  void end_header() { in_header_ = false; }
  void set(Problem p) {
    if (problem_ == Problem::none) problem_ = p;
  }

  std::size_t header_limit_;
  int hop_limit_;
  Problem problem_ = Problem::none;
  bool in_header_ = true;
  std::size_t header_bytes_ = 0;
  int hops_ = 0;
  bool any_field_ = false;  // a field has started: continuation lines may follow
  // What the current header line can still be: start (no byte yet), name
  // (of a field), after_name (white space after it), continuation (white
  // space so far, after a space or tab: a continuation or blank), blank
  // (white space so far, after a CR: blank or the body), field (decided).
  enum class Line { start, name, after_name, continuation, blank, field };
  Line line_ = Line::start;
  std::size_t line_bytes_ = 0;
  std::string name_;  // the field name's first bytes, lowercased
};

}  // namespace postern::message_rules
