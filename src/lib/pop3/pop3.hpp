// pop3: the parts of POP3 (RFC 1939, 2449, 5034) that pop3d's two stages
// share and that are worth testing alone: command parsing, the transfer
// form of a message (CRLF line ends, dot-stuffing, TOP's line limit), the
// sizes LIST reports and unique ids. What pop3d shares with imapd about
// logins (AUTH PLAIN, the checkpassword request) is in login_request.hpp.
//
// The commands themselves are one table (verbs): each stage dispatches
// from it, so the states and argument counts are written once.
//
// Everything here treats its input as hostile: lengths and characters are
// checked, nothing throws, failures come back as nullopt.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::pop3 {

// Longest command line accepted, CRLF included (RFC 2449 says 255; AUTH
// responses may be longer, RFC 5034).
constexpr std::size_t max_line = 1024;

struct Command {
  std::string verb;               // upper case
  std::vector<std::string> args;  // split on spaces
  std::string rest;               // everything after the verb and one space
};

// Parses one command line (its CRLF or LF may be present). nullopt for an
// empty line, a verb that is not 1-8 letters, or control bytes.
std::optional<Command> parse_command(std::string_view line);

// The two states of a session that take commands (RFC 1939 3).
enum class State : unsigned char { authorization = 1, transaction = 2 };

// One command's grammar: the states it is allowed in and how many
// arguments it takes. The stages pop3d and pop3d-mailbox run the commands
// of their state; the rules come from here only.
struct Verb {
  std::string_view name;
  unsigned char states;  // State bits
  std::size_t min_args, max_args;
};

constexpr std::size_t any_number = static_cast<std::size_t>(-1);
constexpr unsigned char in_authorization = static_cast<unsigned char>(State::authorization);
constexpr unsigned char in_transaction = static_cast<unsigned char>(State::transaction);

// Every command postern knows (RFC 1939, CAPA of RFC 2449, STLS of RFC
// 2595, AUTH of RFC 5034). PASS takes the rest of the line, spaces and all
// (and an empty one is its own error); AUTH without arguments lists the
// mechanisms.
inline constexpr Verb verbs[] = {
    {"USER", in_authorization, 1, 1},
    {"PASS", in_authorization, 0, any_number},
    {"APOP", in_authorization, 2, 2},
    {"AUTH", in_authorization, 0, 2},
    {"STLS", in_authorization, 0, 0},
    {"CAPA", in_authorization | in_transaction, 0, 0},
    {"QUIT", in_authorization | in_transaction, 0, 0},
    {"STAT", in_transaction, 0, 0},
    {"LIST", in_transaction, 0, 1},
    {"UIDL", in_transaction, 0, 1},
    {"RETR", in_transaction, 1, 1},
    {"TOP", in_transaction, 2, 2},
    {"DELE", in_transaction, 1, 1},
    {"RSET", in_transaction, 0, 0},
    {"NOOP", in_transaction, 0, 0},
};

// The -ERR reply when c may not run in state s ("-ERR unknown command",
// "-ERR log in first", "-ERR already logged in", "-ERR wrong number of
// arguments"), or "" when it may.
std::string refusal(const Command& c, State s);

// True when handlers (an array of {name, ...} rows of one stage) has a
// row for every command allowed in state s, and none for another: checked
// at compile time by each stage.
template <typename Row, std::size_t n>
constexpr bool covers(const Row (&handlers)[n], State s) {
  std::size_t allowed_rows = 0;
  for (const Verb& v : verbs) {
    bool allowed = v.states & static_cast<unsigned char>(s);
    std::size_t rows = 0;
    for (const Row& h : handlers) rows += h.name == v.name;
    if (rows != (allowed ? 1u : 0u)) return false;
    allowed_rows += allowed;
  }
  return allowed_rows == n;  // no row for a command that does not exist
}

// A message number: decimal, 1..max. nullopt otherwise.
std::optional<std::size_t> message_number(std::string_view s, std::size_t max);
// A non-negative decimal (TOP's line count); nullopt otherwise.
std::optional<std::uint64_t> count(std::string_view s);

// Turns a message as stored (LF or CRLF line ends) into its transfer form:
// every line ends in CRLF, lines starting with '.' get another '.', and
// finish() ends it with ".\r\n". With body_lines >= 0 only the header,
// the blank line and that many body lines are sent (TOP).
class Transfer {
 public:
  explicit Transfer(long long body_lines = -1) : limit_(body_lines) {}
  // Appends the transfer form of the next bytes of the message to out.
  void feed(std::string_view in, std::string& out);
  // Ends the last line if needed, and appends the terminating ".\r\n".
  void finish(std::string& out);
  // True when TOP's limit is reached: the rest of the message is not needed.
  bool done() const { return done_; }

 private:
  void end_line(std::string& out);
  long long limit_;
  bool line_start_ = true;
  bool pending_cr_ = false;
  bool in_header_ = true;
  bool empty_line_ = true;  // the current line has no bytes yet
  long long body_sent_ = 0;
  bool done_ = false;
};

// The unique id of a Maildir message from its file name: the name before
// ':' (as qmail-pop3d), which moving from new/ to cur/ and flag changes
// leave alone. Names longer than 70 or with bytes outside 0x21..0x7e (RFC
// 1939's limits) are replaced by a hex hash of that part, just as stable.
std::string uidl_of(std::string_view file_name);

}  // namespace postern::pop3
