// logline: reads one line of a postern log, as mailstats sees it: the
// timestamp prefix (syslog, ISO 8601 with or without a host, multilog's
// TAI64N label, or none), the program tag (send or smtpd, bare or through
// syslog's "postern:" or "postern/send[123]:"), and the key=value fields of
// the lines the traffic report counts (send's new, delivery, bounce and end
// lines; smtpd's accepted and reject lines). Trusts nothing: addresses and
// reasons come from the network; a line of any length and any bytes gives
// a result, never a crash. Returns the fields as copies, unescaped.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::mailstats {

struct LogLine {
  enum class Kind { accepted, reject, queued, delivery, bounce, end };
  Kind kind = Kind::end;
  std::optional<double> time;  // seconds since the epoch, when the line has a timestamp
  std::string program;         // "send" or "smtpd"
  std::string msg;             // the queue id (empty for a reject)
  // Every key=value pair in order; a bare word has an empty value.
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of key, or nullopt when the line has no such key.
  std::optional<std::string_view> get(std::string_view key) const;
};

enum class ParseResult {
  ours,       // a line the report counts: out is filled in
  other,      // not one of those lines (another program, another event): ignored
  malformed,  // a send/smtpd line of a counted kind whose fields do not parse
};

// Parses text (without its newline). year is the year of syslog stamps,
// which carry none; 0 takes this year, or the year before for a date
// more than a day ahead of now (December's lines read in January).
ParseResult parse_line(std::string_view text, int year, LogLine& out);

// Reads a timestamp prefix and the blank after it from the front of rest,
// which is advanced past it; nullopt (rest untouched) when there is none.
// Stamps without a zone (syslog's, ISO 8601 without an offset) are local
// time, as TZ says.
std::optional<double> take_timestamp(std::string_view& rest, int year);

// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]" (also with a blank for the T) in
// local time, as given to --since and --until; nullopt if it is neither.
std::optional<std::time_t> parse_when(std::string_view text);

}  // namespace postern::mailstats
