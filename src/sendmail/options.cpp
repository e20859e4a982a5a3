// options: see options.hpp. The grammar is Sendmail's getopt string
// "A:B:b:C:cd:e:F:f:Gh:IiL:M:mN:nO:o:p:q:R:r:sTtUV:vX:", except that -q
// takes its value only when attached (-q30m), as Sendmail itself arranges,
// except -qR, -qS and -qI with nothing attached, which take the next
// argument (sendmail -qR example.org), and that options end at the first argument that is not one.
#include "options.hpp"

#include <string_view>

#include "base/strings.hpp"

namespace postern::sendmail {

namespace {

bool takes_value(char c) { return std::string_view("ABbCdeFfhLMNOopRrVX").find(c) != std::string_view::npos; }
bool plain_flag(char c) { return std::string_view("cGIimnsTtUv").find(c) != std::string_view::npos; }

}  // namespace

Parsed parse_command_line(const std::string& name, const std::vector<std::string>& args) {
  Request r;
  if (name == "mailq") {
    r.mode = Mode::print_queue;
    r.args = args;
    return {r, ""};
  }
  if (name == "newaliases") {
    r.mode = Mode::newaliases;
    return {r, ""};
  }
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (std::size_t k = 1; k < a.size(); ++k) {
      char c = a[k];
      if (c == 'q') {
        // -q and -q30m: run it all now (send has its own schedule). -qR,
        // -qS and -qI name a domain, a sender or a queue id, attached as
        // Sendmail and Postfix write it or as the next argument.
        r.mode = Mode::run_queue;
        char kind = k + 1 < a.size() ? a[k + 1] : 0;
        if (kind == 'R' || kind == 'S' || kind == 'I') {
          r.queue_kind = kind == 'R' ? 'd' : kind == 'S' ? 's' : 'i';
          r.queue_value = a.substr(k + 2);
          if (r.queue_value.empty()) {
            if (i + 1 == args.size()) return {std::nullopt, std::string("option -q") + kind + " needs a value"};
            r.queue_value = args[++i];
          }
          // Postfix's "-qR@domain" and Sendmail's "-qR domain" mean one thing.
          if (kind == 'R' && r.queue_value[0] == '@') r.queue_value.erase(0, 1);
        }
        break;
      }
      if (plain_flag(c)) {
        if (c == 't') r.header_recipients = true;
        else if (c == 'i') r.ignore_dots = true;
        else if (c == 'v') r.verbose = true;
        else if (c == 'I') r.mode = Mode::newaliases;
        continue;
      }
      if (!takes_value(c)) return {std::nullopt, std::string("unknown option -") + c};
      std::string value;
      if (k + 1 < a.size()) {
        value = a.substr(k + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return {std::nullopt, std::string("option -") + c + " needs a value"};
      }
      switch (c) {
        case 'f': case 'r': r.sender = value; break;
        case 'F': r.full_name = value; break;
        case 'o':
          if (value == "i") r.ignore_dots = true;
          break;
        case 'O': {
          auto eq = value.find('=');
          std::string key = lower(trim(value.substr(0, eq)));
          std::string val = eq == std::string::npos ? "" : lower(trim(value.substr(eq + 1)));
          if (key == "ignoredots") r.ignore_dots = val.empty() || val[0] == 't' || val[0] == 'y';
          break;
        }
        case 'b':
          if (value == "m") r.mode = Mode::deliver;
          else if (value == "p") r.mode = Mode::print_queue;
          else if (value == "s") r.mode = Mode::smtp;
          else if (value == "i") r.mode = Mode::newaliases;
          else return {std::nullopt, "-b" + value + " is not supported"};
          break;
        default: break;  // accepted for compatibility, meaningless here
      }
      break;  // the value used the rest of this argument
    }
  }
  r.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return {r, ""};
}

}  // namespace postern::sendmail
