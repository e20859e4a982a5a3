// log_lines: send's key=value log lines (send(8), LOG), the contract the
// traffic report and grep msg=ID rely on: a new message, each delivery
// attempt, a bounce queued, a message leaving the queue. Also what an
// attempt's line needs from the delivery's text: its DSN code and, for
// remote, the host it talked to. Trusts nothing in the texts (they come
// from remote hosts): every value goes through log::kv.
#pragma once
#include <cstddef>
#include <string>

namespace postern::send::log_lines {

// The DSN code a delivery's text carries, "(#5.1.1)" as qmail's programs
// end theirs or an SMTP reply's enhanced code ("said: 550 5.1.1 ..."),
// when its class fits the status ('D' sent: 2, 'P' deferred: 4, 'B'
// bounced: 5, or 4 for a deferral that outlived the queue lifetime); else
// 2.0.0, 4.0.0 or 5.0.0.
std::string dsn(const std::string& text, char state);

// "HOST[IP]:PORT" of the host a remote delivery's text names ("Remote host
// HOST[IP]:PORT said: ..."); "HOST[IP]" when the text gives no port (remote
// names none today: a guess of 25 would be wrong for an smtproutes relay
// on another port); "none" when it names no host (no connection was made).
std::string relay(const std::string& text);

struct Attempt {
  std::string id, address;
  char channel = 'L';     // 'L' local or 'R' remote
  char state = 'P';       // the recipient's state after it: 'D', 'P' or 'B'
  double arrived = 0;     // when the message was queued (seconds since 1970)
  double started = 0;     // when the attempt began
  double ended = 0;       // when its report came
  std::string text;       // the delivery's result text
};

// "msg=ID to=<RCPT> channel=local|remote relay=... delay=S delays=Q/A
// dsn=X.Y.Z status=sent|deferred|bounced reason=..."
std::string attempt(const Attempt& a);

// "msg=ID new from=<SENDER> size=BYTES nrcpt=N"
std::string new_message(const std::string& id, const std::string& sender, long size, std::size_t recipients);

// Seconds since 1970 with fractions, for delay= and delays=.
double now();

}  // namespace postern::send::log_lines
