// Fuzz target: mailstats' log line parser and report (src/mailstats:
// logline, tally, report*). Input: log lines separated by newlines, as an
// attacker who controls addresses, HELO names and reasons could shape them.
// Checks: a counted line names send or smtpd, has a finite time if any and
// a queue id unless it is a reject; its fields written again in the log's
// own key=value form (bare, or "quoted" with \" and \\) parse back to the
// same line; the HTML report of all the lines carries no markup from them
// (no <script>, exactly two SVG charts at most).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mailstats/logline.hpp"
#include "mailstats/report.hpp"
#include "mailstats/tally.hpp"

using namespace postern::mailstats;

namespace {

std::string quote(const std::string& v) {
  if (v.find(' ') == std::string::npos && !v.starts_with('"')) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string write_again(const LogLine& l) {
  std::string out = l.program + ":";
  for (auto& [k, v] : l.fields) out += " " + k + (v.empty() && !k.empty() ? "" : "=" + quote(v));
  return out;
}

std::size_t count(const std::string& s, std::string_view what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Tally tally;
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto text = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    LogLine l;
    if (parse_line(text, 2026, l) != ParseResult::ours) continue;
    FUZZ_CHECK(l.program == "send" || l.program == "smtpd", text);
    FUZZ_CHECK(!l.time || std::isfinite(*l.time), text);
    FUZZ_CHECK(!l.msg.empty() || l.kind == LogLine::Kind::reject, text);
    LogLine again;
    auto rewritten = write_again(l);
    FUZZ_CHECK(parse_line(rewritten, 2026, again) == ParseResult::ours, rewritten);
    FUZZ_CHECK(again.kind == l.kind && again.msg == l.msg && again.fields == l.fields, rewritten);
    tally.add(l);
  }
  auto report = build_report(tally, 5);
  auto html = render_html(report);
  FUZZ_CHECK(html.find("<script") == std::string::npos, html);
  FUZZ_CHECK(count(html, "<svg") <= 2 && count(html, "<table") <= report.sections.size(), html);
  auto text = render_text(report);
  for (unsigned char c : text) FUZZ_CHECK(c >= 32 || c == '\n', text);
  return 0;
}
