// splogger: copies log lines from standard input to syslog.
//
//   splogger [tag [facility-number]]
//
// Each line becomes one syslog message at LOG_INFO (LOG_MAIL by default),
// tagged "postern" unless a tag is given; lines that mention a fatal
// error or an alert go at LOG_ALERT. start runs it as posternl. Lines are
// cut at 800 bytes, as syslog would otherwise split them; a line over 64 KB
// is dropped with a note.
//
// When syslog cannot be reached (no /dev/log: a Debian without rsyslog, a
// container; or a daemon that refuses), splogger says so once on standard
// error and writes every line there, with an ISO 8601 time stamp, so that
// whatever holds start's output (a file, journald, multilog) keeps the
// log; it tries /dev/log again at most once a second and goes back to it
// as soon as it answers. It speaks to /dev/log itself, not through
// syslog(3), because syslog(3) drops a line it cannot deliver without a
// word. Trusts nothing on standard input (each line is made printable);
// exits 0 at end of input, 100 for bad arguments.
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

constexpr const char* syslog_path = "/dev/log";

// A line for a person reading standard error: "2026-11-30T14:45:11.123456+00:00 TAG: text".
std::string stamped(const std::string& tag, const std::string& text) {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  ::localtime_r(&ts.tv_sec, &tm);
  char when[40], zone[8];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);  // +hhmm; ISO 8601 wants +hh:mm
  std::string z(zone);
  if (z.size() == 5) z.insert(3, ":");
  return fmt::format("{}.{:06d}{} {}: {}\n", when, ts.tv_nsec / 1000, z, tag, text);
}

class Syslog {
 public:
  Syslog(std::string tag, int facility) : tag_(std::move(tag)), facility_(facility) {}

  void send(int level, const std::string& text) {
    if (!fd_.ok() && !fallback_) connect();
    if (!fd_.ok() && fallback_ && std::time(nullptr) != last_try_) connect();
    if (fd_.ok() && !deliver(level, text)) {
      // The daemon may have started afresh on a new socket: once more.
      connect();
      if (fd_.ok() && !deliver(level, text)) {
        why_ = std::strerror(errno);
        fd_.reset();
      }
    }
    if (fd_.ok()) {
      if (fallback_) {
        fallback_ = false;
        write_all(2, stamped("splogger", fmt::format("syslog at {} is back; log lines go there again", syslog_path)));
        deliver(LOG_INFO, fmt::format("splogger: {} line(s) went to standard error while syslog was unreachable",
                                      missed_));
        missed_ = 0;
      }
      return;
    }
    if (!fallback_) {
      fallback_ = true;
      write_all(2, stamped("splogger", fmt::format("cannot reach syslog at {} ({}); writing log lines to standard "
                                                   "error until it is back",
                                                   syslog_path, why_)));
    }
    ++missed_;
    write_all(2, stamped(tag_, text));
  }

 private:
  void connect() {
    last_try_ = std::time(nullptr);
    fd_.reset();
    struct sockaddr_un sa {};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, syslog_path, sizeof sa.sun_path - 1);
    // journald and rsyslog listen on a datagram socket; some daemons on a
    // stream one, where each message ends with a NUL.
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      Fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
      if (!fd.ok()) break;
      if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) == 0) {
        fd_ = std::move(fd);
        stream_ = type == SOCK_STREAM;
        return;
      }
      why_ = std::strerror(errno);
      if (errno != EPROTOTYPE) break;
    }
  }

  // RFC 3164's form, as syslog(3) sends it: "<PRI>Mmm dd hh:mm:ss TAG: text".
  bool deliver(int level, const std::string& text) {
    std::time_t now = std::time(nullptr);
    struct tm tm {};
    ::localtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%h %e %T", &tm);
    std::string msg = fmt::format("<{}>{} {}: {}", facility_ | level, when, tag_, text);
    if (stream_) msg += '\0';
    for (;;) {
      ssize_t n = ::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(msg.size())) return true;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }

  std::string tag_;
  int facility_;
  Fd fd_;
  bool stream_ = false;
  bool fallback_ = false;
  std::time_t last_try_ = 0;
  unsigned long missed_ = 0;
  std::string why_ = "unknown error";
};

}  // namespace

int main(int argc, char** argv) {
  log::set_program("splogger");
  std::string tag = argc > 1 ? argv[1] : "postern";
  int facility = LOG_MAIL;
  if (argc > 2) {
    auto f = to_number(argv[2]);
    if (!f || *f > 23) log::die(status::permanent, "usage: splogger [tag [facility]]");
    facility = static_cast<int>(*f) << 3;
  }
  Syslog out(log::printable(tag, 64), facility);
  LineReader in(0, 65536);
  std::string line;
  for (;;) {
    auto r = in.next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) return 0;
    if (r == LineReader::Result::too_long) {
      out.send(LOG_INFO, "(a log line longer than 64 KB was dropped)");
      continue;
    }
    std::string text = log::printable(chomp(line), 800);
    int level = text.find("fatal:") != std::string::npos || text.find("alert:") != std::string::npos ? LOG_ALERT : LOG_INFO;
    out.send(level, text);
  }
}
