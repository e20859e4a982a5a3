// splogger: copies log lines from standard input to syslog.
//
//   splogger [tag [facility-number]]
//
// Each line becomes one syslog message at LOG_INFO (LOG_MAIL by default),
// tagged "postern" unless a tag is given; lines that mention a fatal
// error or an alert go at LOG_ALERT. start runs it as posternl. Lines are
// cut at 800 bytes, as syslog would otherwise split them; a line over 64 KB
// is dropped with a note.
#include <syslog.h>

#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("splogger");
  std::string tag = argc > 1 ? argv[1] : "postern";
  int facility = LOG_MAIL;
  if (argc > 2) {
    auto f = to_number(argv[2]);
    if (!f || *f > 23) log::die(status::permanent, "usage: splogger [tag [facility]]");
    facility = static_cast<int>(*f) << 3;
  }
  ::openlog(tag.c_str(), 0, facility);
  LineReader in(0, 65536);
  std::string line;
  for (;;) {
    auto r = in.next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) return 0;
    if (r == LineReader::Result::too_long) {
      ::syslog(LOG_INFO, "(a log line longer than 64 KB was dropped)");
      continue;
    }
    std::string text = log::printable(chomp(line), 800);
    int level = text.find("fatal:") != std::string::npos || text.find("alert:") != std::string::npos ? LOG_ALERT : LOG_INFO;
    ::syslog(level, "%s", text.c_str());
  }
}
