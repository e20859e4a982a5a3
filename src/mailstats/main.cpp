// mailstats: a traffic report from postern's log lines (mailstats(8)).
//
//   mailstats [--top N] [--since DATE] [--until DATE] [--year YYYY] [--html] [FILE...]
//
// Reads each FILE (plain or gzip'd; "-" or none: standard input), counts
// send's and smtpd's key=value lines and prints the report, plain text or
// one HTML page. Trusts nothing in the logs (logline.hpp); needs no
// privilege beyond reading them. Exits 0, 100 on a usage error, 111 when a
// file could not be read whole (the report of the rest is still printed).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "input.hpp"
#include "logline.hpp"
#include "mail/status.hpp"
#include "report.hpp"
#include "tally.hpp"

using namespace postern;
using namespace postern::mailstats;

namespace {

constexpr std::size_t max_line = 65536;

[[noreturn]] void usage(const std::string& why) {
  log::die(status::permanent,
           why + "\nusage: mailstats [--top N] [--since DATE] [--until DATE] [--year YYYY] [--html] [FILE...]");
}

std::time_t when(const std::string& option, const std::string& text, bool end_of_day) {
  auto t = parse_when(text);
  if (!t) usage(option + " wants YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], not " + text);
  if (end_of_day && text.size() == 10) {  // --until a day takes that whole day
    std::tm tm{};
    ::localtime_r(&*t, &tm);
    tm.tm_mday += 1;
    tm.tm_isdst = -1;
    return std::mktime(&tm);
  }
  return *t;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("mailstats");
  std::size_t top = 10;
  bool html = false;
  int year = 0;  // syslog stamps: this year or the last (logline.hpp)
  Tally tally;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--html") {
      html = true;
    } else if (a == "--top") {
      auto n = to_number(value());
      if (!n || *n < 1 || *n > 10000) usage("--top wants a number from 1 to 10000");
      top = *n;
    } else if (a == "--year") {
      auto n = to_number(value());
      if (!n || *n < 1970 || *n > 9999) usage("--year wants a year from 1970 to 9999");
      year = static_cast<int>(*n);
    } else if (a == "--since") {
      tally.since = when(a, value(), false);
    } else if (a == "--until") {
      tally.until = when(a, value(), true);
    } else if (a == "--") {
      for (++i; i < argc; ++i) files.push_back(argv[i]);
    } else if (a.size() > 1 && a[0] == '-') {
      usage("unknown option " + a);
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) files.push_back("-");

  int code = status::ok;
  LogLine line;
  auto on_line = [&](std::string_view text) {
    ++tally.lines;
    switch (parse_line(text, year, line)) {
      case ParseResult::ours: tally.add(line); break;
      case ParseResult::other: ++tally.other; break;
      case ParseResult::malformed: ++tally.malformed; break;
    }
  };
  for (auto& f : files) {
    int fd = f == "-" ? ::dup(0) : ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      log::line("unable to open {}: {}", f, std::strerror(errno));
      code = status::temporary;
      continue;
    }
    if (auto error = read_lines(fd, max_line, on_line, tally.too_long)) {
      log::line("{}: {}", f == "-" ? "standard input" : f, *error);
      code = status::temporary;
    }
  }
  auto report = build_report(tally, top);
  if (!write_all(1, html ? render_html(report) : render_text(report))) {
    log::line("unable to write the report: {}", std::strerror(errno));
    return status::temporary;
  }
  return code;
}
