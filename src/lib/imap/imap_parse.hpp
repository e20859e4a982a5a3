// imap_parse: reading and parsing IMAP commands (RFC 3501 section 9, with
// LITERAL+ from RFC 7888), shared by imapd's pre-auth stage and its
// mailbox stage. A command is read whole, its literals included, into one
// buffer ("a LOGIN {3}\r\nbob ..."), each part bounded; then a Parser walks
// it. Everything here treats its input as hostile: it checks lengths and
// characters, never throws, and reports failures as false/nullopt.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/netio.hpp"

namespace postern::imap {

struct Limits {
  std::size_t max_line = 65536;              // one line of a command, without literals
  std::size_t max_literal = 64 << 20;        // one literal (APPEND's message)
  std::size_t max_command = (64 << 20) + (1 << 20);  // a whole command, literals included
  // The largest non-synchronizing literal ("{n+}"): no bound beyond
  // max_literal under LITERAL+, 4096 under LITERAL- (RFC 7888).
  std::uint64_t max_nonsync = UINT64_MAX;
  static constexpr std::size_t max_command_text = 1 << 20;  // a command's text, literals a sink takes left out
};

constexpr std::uint64_t literal_minus_max = 4096;

enum class ReadStatus {
  ok,            // a whole command is in out
  eof,           // the client closed
  timeout,       // nothing for the NetIO's timeout
  error,         // read or write error
  too_long,      // a line longer than max_line (the rest of it was skipped)
  literal_big,   // a synchronizing literal over max_literal: the client sends no data; answer and go on
  literal_plus_big,  // a LITERAL+ literal over the limit: its data is coming; the connection must end
  literal_minus_big,  // a "{n+}" over max_nonsync (LITERAL-): the command was read and dropped; answer BAD [TOOBIG]
};

// Where read_command puts a literal that must not be held in memory
// (APPEND's message): the stage decides, literal by literal.
class LiteralSink {
 public:
  virtual ~LiteralSink() = default;
  // A literal of n bytes (within max_literal) is announced at the end of
  // so_far, the command read until now. True: its bytes go to write() and
  // out keeps only the "{n}" marker and the CRLF after it.
  virtual bool take(std::string_view so_far, std::uint64_t n) = 0;
  virtual void write(std::string_view chunk) = 0;
};

// Reads one command. A synchronizing literal "{n}" gets the continuation
// "+ OK" before its data is read; a "{n+}" does not. A literal8 (RFC 3516,
// "~{n}" or "~{n+}": bytes that may hold NUL) is read as a literal: out
// keeps its "~" (Parser::literal8 reads it) and a sink sees it at the end
// of so_far (literal8_at_end). out keeps the command
// as sent, literal markers and CRLFs included (taken literals' bytes
// excepted). A line over max_line is skipped with too_long, and when it
// ends in a LITERAL+ "{n+}" the n bytes that follow are skipped too (or
// literal_plus_big past max_literal), so they are never read as commands.
ReadStatus read_command(NetIO& io, const Limits& lim, std::string& out, LiteralSink* sink = nullptr);

// True when the command read so far ends with a literal8 marker "~{n}".
bool literal8_at_end(std::string_view so_far);

// The tag of a raw command line, if it has a valid one.
std::optional<std::string> tag_of(std::string_view line);

// A sequence set: ranges of numbers, with 0 standing for "*" (0 is never
// a number in a set, while 4294967295 is one: a UID, not the last message).
using SeqSet = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
constexpr std::uint32_t star = 0;
std::optional<SeqSet> parse_seqset(std::string_view s);
// True when n is in set, with "*" meaning max.
bool seq_contains(const SeqSet& set, std::uint32_t n, std::uint32_t max);
// The set with "*" replaced by max, each range in order, sorted and
// merged: a set of thousands of overlapping ranges ("1:*,1:*,...") shrinks
// to one, and in_set() is a binary search over what is left.
SeqSet normalize(const SeqSet& set, std::uint32_t max);
bool in_set(const SeqSet& normalized, std::uint32_t n);

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}
  bool at_end() const { return pos_ >= s_.size(); }
  // True at the command's end (only CRLF or LF left).
  bool eol();
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool accept(char c);  // consumes c if it is next
  bool sp() { return accept(' '); }
  // An atom (ATOM-CHAR+); with extra, also those bytes (e.g. "]" for
  // astrings, "%*" for list patterns, "\\" for flags).
  std::optional<std::string> atom(std::string_view extra = "");
  std::optional<std::string> quoted();
  std::optional<std::string> literal();
  // A literal's marker "{n}" or "{n+}" and its CRLF, without its bytes
  // (for a literal a LiteralSink took).
  std::optional<std::uint64_t> literal_marker();
  // A literal8 ("~{n}" and its bytes, RFC 3516), and its marker alone.
  std::optional<std::string> literal8();
  std::optional<std::uint64_t> literal8_marker();
  std::optional<std::string> string() {  // quoted or literal
    if (peek() == '"') return quoted();
    if (peek() == '{') return literal();
    return std::nullopt;
  }
  std::optional<std::string> astring();
  std::optional<std::string> list_mailbox();
  // A flag: \Word or a keyword atom.
  std::optional<std::string> flag();
  // "(" flag *(SP flag) ")" or, when bare is true, flags without parentheses.
  std::optional<std::vector<std::string>> flag_list(bool bare_ok);
  std::optional<std::uint32_t> number();
  std::optional<std::uint64_t> number64();
  // The bytes up to the next space, ')' or line end (sequence sets, fetch items).
  std::string_view word();
  std::string_view rest() const { return s_.substr(pos_); }
  std::size_t pos() const { return pos_; }
  void set_pos(std::size_t p) { pos_ = p; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool is_atom_char(char c);

// Output: a string as IMAP quoted string, or as a literal when it holds
// bytes a quoted string cannot ("NIL" for nullopt when nil_ok).
std::string quote(std::string_view s);
std::string nstring(const std::optional<std::string>& s);
std::string literal_of(std::string_view s);
// A mailbox name or other astring for output: atom when possible.
std::string astring_out(std::string_view s);

// "1-Feb-1994" (or quoted); nullopt when malformed. The day's start (UTC).
std::optional<std::time_t> parse_date(std::string_view s);
// "dd-Mon-yyyy hh:mm:ss +zzzz" as in APPEND; the moment it names.
std::optional<std::time_t> parse_date_time(std::string_view s);
// The date-time form of t in the local time zone.
std::string format_date_time(std::time_t t);

// The start of the day (UTC midnight) of the date in an RFC 5322 Date:
// field, for SENTBEFORE etc.: the date as written, its zone ignored.
std::optional<std::time_t> rfc5322_day(std::string_view value);
// The moment an RFC 5322 date names.
std::optional<std::time_t> rfc5322_time(std::string_view value);

// Case-insensitive ASCII helpers.
std::string upper(std::string_view s);
bool iequal(std::string_view a, std::string_view b);
// Case-insensitive substring search (ASCII case folding; other bytes
// exact), in time linear in hay and needle (glibc's two-way memmem over
// folded blocks), whatever the needle.
bool icontains(std::string_view hay, std::string_view needle);

}  // namespace postern::imap
