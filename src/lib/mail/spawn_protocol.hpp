// spawn_protocol: the records send exchanges with lspawn and rspawn.
//
//   request  send -> spawn:  id NUL sender NUL (delnum NUL recipient NUL)... LF
//   report   spawn -> send:  delnum NUL result NUL text LF
//
// A request names one message and one or more of its recipients, each with
// the delivery number its report will carry. lspawn gets one recipient a
// request; rspawn gets all the recipients of a message at one domain, so
// one SMTP session carries them (at most max_recipients).
//
// result is status::delivered, deferred or failed ('K', 'Z', 'D'). A report
// is at most report_max bytes, so that the concurrent deliveries of one
// spawn, each writing its own report with one write(2) to the same pipe,
// never interleave (writes up to PIPE_BUF are atomic).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::spawn {

constexpr std::size_t report_max = 1100;
constexpr std::size_t max_recipients = 100;
constexpr std::size_t request_max = 1100 * (max_recipients + 1);

struct Target {
  unsigned long delnum = 0;
  std::string recipient;
};

struct Request {
  std::string id;
  std::string sender;
  std::vector<Target> targets;
};

struct Report {
  unsigned long delnum = 0;
  char result = 'Z';
  std::string text;
};

std::string encode(const Request& r);
std::string encode(const Report& r);
// The parsers check every field; nullopt on anything malformed.
std::optional<Request> decode_request(std::string_view line);
std::optional<Report> decode_report(std::string_view line);

}  // namespace postern::spawn
