// inject: puts a message from a user or a script into the queue, the way
// qmail-inject does.
//
// inject reads a message on its standard input (LF or CRLF line ends; it
// stores LF) and hands it to conf-home/bin/queue. Recipients come from the
// arguments or, with -h or -t, from the To:, Cc: and Bcc: fields. Addresses
// the user typed are completed (control/defaulthost, defaultdomain,
// plusdomain); Bcc: is removed; Date:, Message-ID: and From: are added when
// missing. The envelope sender is -f, else the user and host found in the
// environment. With -n it prints the message instead of queueing it.
//
// run() is all of it, for inject's main and for sendmail, which calls it
// in its own process rather than start one more program a message.
//
// Runs as: whoever calls it (root too: cron jobs and daemons send mail), never
// setuid. Trusts its caller no more than any local user: it has only the
// caller's privileges, its environment only names the caller's own message,
// and it only feeds the queue, which checks everything again. The text
// follows the rules smtpd applies (mail/message_rules.hpp: no NUL, a header
// of at most 256 KB, no mail loop); the header is held in memory, the body
// is streamed.
//
// Exit codes (mail/status.hpp): 0 queued (or printed); 100 permanent (usage,
// a NUL byte, a header too large, too many hops, a bad or missing
// recipient, or a permanent refusal by queue); 111 temporary (unreadable
// control files, queue failure). Nothing is queued unless it exits 0.
#include <getopt.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mail/address.hpp"
#include "address_completion.hpp"
#include "compose.hpp"
#include "mail/header.hpp"
#include "mail/message_rules.hpp"
#include "identity.hpp"
#include "input.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_client.hpp"
#include "mail/status.hpp"
#include "inject.hpp"

using namespace postern;
using namespace postern::inject;

namespace {

// Bounds on what one message may ask of memory; far beyond any real mail.
// The header's own bound is message_rules::max_header.
constexpr std::size_t max_recipients = 100000;

enum class Recipients { args_else_header, args, header, both };

struct Options {
  Recipients recipients = Recipients::args_else_header;
  bool print = false;
  std::optional<std::string> sender;
  std::optional<std::string> full_name;
  std::vector<std::string> args;
};

[[noreturn]] void usage() {
  log::die(status::permanent,
           "usage: inject [ -nN ] [ -a | -h | -t | -H ] [ -f sender ] [ -F name ] [ address ... ]");
}

Options parse_options(int argc, char** argv) {
  Options o;
  int c;
  // '+': options stop at the first address, as POSIX getopt does.
  while ((c = ::getopt(argc, argv, "+ahtAHnNf:F:")) != -1) {
    switch (c) {
      case 'a': o.recipients = Recipients::args; break;
      case 'h': o.recipients = Recipients::header; break;
      case 't': case 'A': case 'H': o.recipients = Recipients::both; break;
      case 'n': o.print = true; break;
      case 'N': o.print = false; break;
      case 'f': o.sender = optarg; break;
      case 'F': o.full_name = optarg; break;
      default: usage();
    }
  }
  for (int i = optind; i < argc; ++i) o.args.emplace_back(argv[i]);
  return o;
}

[[noreturn]] void refuse(message_rules::Problem p) {
  log::die(status::permanent, std::string(message_rules::describe(p)));
}

// The header, as message_rules says where it ends (the rule smtpd follows
// too): at a blank line, which is dropped, or at the first line that is
// neither a field nor a continuation, returned in first_body_line (or left
// unread in `in` when it is longer than any header).
std::string read_header(Input& in, message_rules::Checker& rules, std::string& first_body_line) {
  std::string header, line;
  for (;;) {
    switch (in.line(line, message_rules::max_header + 1)) {
      case Input::Result::ok: break;
      case Input::Result::eof: return header;
      case Input::Result::too_long: {
        // Longer than any header may be: either the header is too big or
        // this line is the body's; the checker decides from its start.
        message_rules::Checker probe = rules;
        probe.feed(in.pending());
        if (probe.problem() != message_rules::Problem::none) refuse(probe.problem());
        return header;
      }
      case Input::Result::error: log::die(status::temporary, "unable to read the message");
    }
    rules.feed(line);
    if (rules.problem() != message_rules::Problem::none) refuse(rules.problem());
    bool ended = !rules.in_header();
    if (!ended && line.back() != '\n') {
      // The last line of the input, without its LF: as if it had one.
      message_rules::Checker probe = rules;
      probe.feed("\n");
      ended = !probe.in_header();
    }
    if (ended) {
      if (!header::is_blank(line)) first_body_line = line;
      return header;
    }
    header += line;
    if (header.back() != '\n') header += '\n';
  }
}

// Why the message cannot be sent on: an exit code and a reason.
struct Failure {
  int code;
  std::string why;
};

// Sends the header, the blank line and the rest of the input to out, which
// returns false when its reader has gone away. The rest goes through the
// rules first (a NUL in the body). The caller stops queue before it dies
// with a failure, so that nothing is left queued when inject exits.
template <typename Out>
std::optional<Failure> copy_message(Input& in, message_rules::Checker& rules, const std::string& header,
                                    const std::string& first_body_line, Out&& out) {
  if (!out(header) || !out("\n") || !out(first_body_line)) return std::nullopt;
  std::string piece;
  for (;;) {
    switch (in.chunk(piece)) {
      case Input::Result::ok: break;
      case Input::Result::eof: return std::nullopt;
      case Input::Result::too_long:
      case Input::Result::error: return Failure{status::temporary, "unable to read the message"};
    }
    rules.feed(piece);
    if (rules.problem() != message_rules::Problem::none)
      return Failure{status::permanent, std::string(message_rules::describe(rules.problem()))};
    if (!out(piece)) return std::nullopt;
  }
}

}  // namespace

int postern::inject::run(int argc, char** argv) {
  log::set_program("inject");
  optind = 1;  // getopt's own state: the caller may have used it
  Options opt = parse_options(argc, argv);

  auto rules = load_completion_rules();
  if (!rules) log::die(status::temporary, "unable to read a control file");
  auto id = find_identity(*rules, opt.full_name);
  if (!id) log::die(status::temporary, "unable to find the name of the user running inject");

  Input in(0);
  message_rules::Checker text_rules;
  std::string first_body_line;
  std::string header_text = read_header(in, text_rules, first_body_line);
  auto fields = header::parse(header_text);
  header_text.clear();
  header_text.shrink_to_fit();

  // Recipients: completed like every address the user typed.
  Envelope env;
  bool use_args = opt.recipients != Recipients::header &&
                  !(opt.recipients == Recipients::args_else_header && opt.args.empty());
  bool use_header = opt.recipients == Recipients::header || opt.recipients == Recipients::both ||
                    (opt.recipients == Recipients::args_else_header && opt.args.empty());
  if (use_header && !header_recipients(fields, *rules, max_recipients, env.recipients))
    log::die(status::permanent, "more than 100000 recipients");
  if (use_args)
    for (const auto& a : opt.args) env.recipients.push_back(complete_address(a, *rules));
  if (env.recipients.size() > max_recipients)
    log::die(status::permanent, "more than 100000 recipients");
  if (env.recipients.empty()) log::die(status::permanent, "no recipients");
  for (const auto& r : env.recipients)
    if (r.empty() || !valid_envelope_address(r))
      log::die(status::permanent, "invalid recipient address: " + log::printable(r));

  if (opt.sender) {
    // "-f '<a@b>'" and "-f '<>'" are common in scripts; the brackets are not
    // part of the address.
    std::string_view s = *opt.sender;
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    env.sender = complete_address(s, *rules);
  } else {
    env.sender = id->sender;
  }
  if (!valid_envelope_address(env.sender))
    log::die(status::permanent, "invalid sender address: " + log::printable(env.sender));

  complete_address_fields(fields, *rules);
  remove_bcc(fields);
  add_missing_fields(fields, *id, *rules, std::time(nullptr));
  std::string header = render(fields);
  fields.clear();

  if (opt.print) {
    auto failure =
        copy_message(in, text_rules, header, first_body_line, [](std::string_view s) { return write_all(1, s); });
    if (failure) log::die(failure->code, failure->why);
    return status::ok;
  }

  auto queue = std::make_unique<QueueClient>(Origin::here);
  if (!queue->ok()) log::die(status::temporary, "unable to run the queue program");
  auto failure =
      copy_message(in, text_rules, header, first_body_line, [&](std::string_view s) { return queue->write(s); });
  if (failure) {
    // No envelope: queue removes what it wrote, and inject waits for that,
    // so "exit 100" means the queue holds nothing of the message.
    queue.reset();
    log::die(failure->code, failure->why);
  }
  int code = queue->finish(env);
  if (code == queue_exit::queued) return status::ok;
  int exit_code = queue_failure_is_permanent(code) ? status::permanent : status::temporary;
  log::die(exit_code, "queue refused the message: " + queue_failure_text(code));
}
