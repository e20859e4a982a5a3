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
// Trusts its caller no more than any local user: it runs with the caller's
// privileges and only feeds the queue, which checks everything again. The
// header is held in memory up to 64 MB; the body is streamed.
//
// Exit codes: 0 queued (or printed); 100 permanent (usage, a NUL byte, a
// bad or missing recipient, a header too large, or a permanent refusal by
// queue); 111 temporary (unreadable control files, queue failure).
#include <getopt.h>
#include <unistd.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "mail/address.hpp"
#include "address_completion.hpp"
#include "compose.hpp"
#include "mail/header.hpp"
#include "identity.hpp"
#include "input.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_client.hpp"
#include "mail/status.hpp"

using namespace postern;
using namespace postern::inject;

namespace {

// Bounds on what one message may ask of memory; far beyond any real mail.
constexpr std::size_t max_header = 64 << 20;
constexpr std::size_t max_fields = 65536;
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

// The header ends at a blank line or at the first line that cannot belong
// to it; that line is returned in first_body_line.
std::string read_header(Input& in, std::string& first_body_line) {
  std::string header, line;
  std::size_t fields = 0;
  for (;;) {
    switch (in.line(line, max_header - header.size())) {
      case Input::Result::ok: break;
      case Input::Result::eof: return header;
      case Input::Result::nul: log::die(status::permanent, "the message contains a NUL byte");
      case Input::Result::too_long: log::die(status::permanent, "the header is larger than 64 MB");
      case Input::Result::error: log::die(status::temporary, "unable to read the message");
    }
    if (header::is_blank(line)) return header;
    if (!header::is_field_start(line) && !(header.size() && header::is_continuation(line))) {
      first_body_line = line;
      return header;
    }
    if (header::is_field_start(line) && ++fields > max_fields)
      log::die(status::permanent, "the header has more than 65536 fields");
    header += line;
    if (header.back() != '\n') header += '\n';
  }
}

// Sends the header, the blank line and the rest of the input to out, which
// returns false when its reader has gone away.
template <typename Out>
void copy_message(Input& in, const std::string& header, const std::string& first_body_line,
                  Out&& out) {
  if (!out(header) || !out("\n") || !out(first_body_line)) return;
  std::string piece;
  for (;;) {
    switch (in.chunk(piece)) {
      case Input::Result::ok: break;
      case Input::Result::eof: return;
      case Input::Result::nul: log::die(status::permanent, "the message contains a NUL byte");
      case Input::Result::too_long:
      case Input::Result::error: log::die(status::temporary, "unable to read the message");
    }
    if (!out(piece)) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("inject");
  Options opt = parse_options(argc, argv);

  auto rules = load_completion_rules();
  if (!rules) log::die(status::temporary, "unable to read a control file");
  auto id = find_identity(*rules, opt.full_name);
  if (!id) log::die(status::temporary, "unable to find the name of the user running inject");

  Input in(0);
  std::string first_body_line;
  std::string header_text = read_header(in, first_body_line);
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
    copy_message(in, header, first_body_line, [](std::string_view s) { return write_all(1, s); });
    return status::ok;
  }

  QueueClient queue;
  if (!queue.ok()) log::die(status::temporary, "unable to run the queue program");
  copy_message(in, header, first_body_line, [&](std::string_view s) { return queue.write(s); });
  int code = queue.finish(env);
  if (code == 0) return status::ok;
  int exit_code = queue_failure_is_permanent(code) ? status::permanent : status::temporary;
  log::die(exit_code, "queue refused the message: " + queue_failure_text(code));
}
