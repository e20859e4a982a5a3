// smtp_data: the message text of an SMTP transaction, as smtpd receives it
// with DATA or BDAT, turned into what the queue stores (LF line ends), with
// the checks that keep SMTP smuggling and mail loops out:
//
//  - Only CRLF ends a line. A bare LF or a lone CR anywhere in the text is
//    a problem: the message is refused (nothing is queued), but the text is
//    still read to its real end, so no byte of it is ever taken as a
//    command.
//  - Only CRLF "." CRLF ends DATA: a line holding a single "." that follows
//    a line ended by CRLF (or the DATA command itself). "<LF>.<LF>",
//    "<CR>.<CR>", "<LF>.<CR><LF>", "<CR><LF>.<LF>" and the rest are text.
//  - The size is bounded (databytes). The rules every new message follows,
//    from smtpd or inject (no NUL, a bounded header, no mail loop), are
//    mail/message_rules.hpp's, applied to the text after conversion.
//
// Nothing here reads or writes a descriptor, so every rule is unit-tested.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "mail/message_rules.hpp"

namespace postern::smtp {

enum class Problem {
  none,
  bare_lf,        // a LF not preceded by CR
  lone_cr,        // a CR not followed by LF
  too_big,        // more than max_bytes after conversion
  nul,            // a NUL byte (message_rules)
  header_too_big, // a header longer than max_header (message_rules)
  too_many_hops,  // more than max_hops Received:/Delivered-To: fields (message_rules)
};

struct Limits {
  std::size_t max_bytes = 0;  // 0: no limit
  std::size_t max_header = message_rules::max_header;
  int max_hops = message_rules::max_hops;
};

// CRLF text in, LF text out, with the checks above. Feed it pieces of any
// size (a CRLF may be split between two pieces); take() what is ready.
class MessageText {
 public:
  explicit MessageText(const Limits& limits)
      : limits_(limits), rules_(limits.max_header, limits.max_hops) {}
  void feed(std::string_view crlf_text);
  // The end of the text: a CR left waiting is a lone CR.
  void finish();
  // The converted text so far (cleared). Nothing more comes out once there
  // is a problem: the message will not be queued.
  std::string take();
  Problem problem() const { return problem_; }
  std::size_t size() const { return size_; }  // bytes after conversion
  int hops() const { return rules_.hops(); }

 private:
  // A bare LF or lone CR here: the bytes before it are checked first, so
  // the problem reported is the first in the text however it is cut.
  void crlf_problem(Problem p);
  // Checks (and counts) what was converted since the last check.
  void check();
  void set(Problem p) {
    if (problem_ == Problem::none) problem_ = p;
  }
  Limits limits_;
  message_rules::Checker rules_;
  std::string out_;
  std::size_t checked_ = 0;  // out_ before this is checked
  Problem problem_ = Problem::none;
  bool pending_cr_ = false;
  std::size_t size_ = 0;
};

// The DATA reader: takes the pieces NetIO::line gives (whole lines ending
// in '\n', or fragments of longer lines), finds the end, undoes the dot
// stuffing and passes the rest to a MessageText.
class DataDecoder {
 public:
  explicit DataDecoder(MessageText& text) : text_(text) {}
  // True when piece is the line that ends DATA (it is not fed). Pieces
  // must be whole lines, or fragments of at least 3 bytes of longer ones
  // (NetIO::line with max >= 3), so that the end line is never cut.
  bool piece(std::string_view p);

 private:
  MessageText& text_;
  bool line_start_ = true;  // the next piece starts a line
  bool after_crlf_ = true;  // the line before ended in CRLF
  char last_ = '\n';
};

// Short reply text for a problem, e.g. for a log line.
std::string problem_text(Problem p);

}  // namespace postern::smtp
