// options: sendmail's command line, as scripts and mail user agents write
// it, read into what postern will do. Accepts the options of Sendmail and
// Postfix that make sense here, ignores the many that only tune Sendmail,
// and refuses the rest. The caller is any local user; the result only
// decides which postern program runs, with the caller's own privileges.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace postern::sendmail {

enum class Mode {
  deliver,     // -bm: read a message and inject it (the default)
  print_queue, // -bp, or invoked as mailq
  run_queue,   // -q...: ask send to retry the queue now
  smtp,        // -bs: speak SMTP on stdin and stdout
  newaliases,  // -bi, -I, or invoked as newaliases
};

struct Request {
  Mode mode = Mode::deliver;
  bool header_recipients = false;  // -t
  bool ignore_dots = false;        // -i, -oi, -O IgnoreDots
  bool verbose = false;            // -v
  std::optional<std::string> sender;     // -f, -r
  std::optional<std::string> full_name;  // -F
  std::vector<std::string> args;  // recipients, or mailq's arguments
  // -qR domain, -qS sender, -qI id: only those messages are made due now
  // (kind 'd', 's' or 'i', as mail/queue_request's selectors); 0 for all.
  char queue_kind = 0;
  std::string queue_value;
};

struct Parsed {
  std::optional<Request> request;
  std::string error;  // why not, when request is empty
};

// args excludes argv[0]; name is argv[0]'s last component.
Parsed parse_command_line(const std::string& name, const std::vector<std::string>& args);

}  // namespace postern::sendmail
