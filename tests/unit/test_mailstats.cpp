// Unit tests for mailstats' parts (src/mailstats): the line parser in
// every timestamp form a postern log comes in, the reason normaliser, the
// bounded tables and delay percentiles, and the HTML report's escaping of
// log text (addresses and reasons come from the network).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>

#include "mailstats/logline.hpp"
#include "mailstats/report.hpp"
#include "mailstats/tally.hpp"

using namespace postern::mailstats;

namespace {

// Stamps without a zone are local time: the tests read them in UTC.
struct Utc {
  Utc() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

constexpr double t_14_45_11 = 1796049911;  // 2026-11-30T14:45:11Z

const char* body = "send: msg=1796049911.123456.77 new from=<a@b.example> size=1234 nrcpt=2";

LogLine parsed(const std::string& text, ParseResult want = ParseResult::ours) {
  LogLine l;
  REQUIRE(parse_line(text, 2026, l) == want);
  return l;
}

}  // namespace

TEST_CASE("mailstats reads every timestamp form", "[mailstats]") {
  Utc utc;
  std::string b = body;
  struct Case {
    std::string line;
    double time;
  };
  const Case cases[] = {
      {"Nov 30 14:45:11 vm postern: " + b, t_14_45_11},
      {"Nov 30 14:45:11 vm " + b, t_14_45_11},
      {"Nov  3 04:05:06 vm postern[99]: " + b, 1793678706},
      {"2026-11-30T14:45:11.123456+00:00 vm postern: " + b, t_14_45_11 + 0.123456},
      {"2026-11-30T14:45:11.123456+00:00 postern: " + b, t_14_45_11 + 0.123456},
      {"2026-11-30T15:45:11+0100 vm postern/send[123]: msg=1796049911.123456.77 new size=1", t_14_45_11},
      {"2026-11-30T14:45:11Z vm " + b, t_14_45_11},
      {"2026-11-30T09:45:11-05:00 " + b, t_14_45_11},
      {"@400000006b0d8c01075bca00 " + b, t_14_45_11 + 0.123456},
  };
  for (auto& c : cases) {
    INFO(c.line);
    auto l = parsed(c.line);
    REQUIRE(l.time);
    CHECK(*l.time == Approx(c.time).margin(1e-6));
    CHECK(l.program == "send");
    CHECK(l.kind == LogLine::Kind::queued);
    CHECK(l.msg == "1796049911.123456.77");
  }
  auto plain = parsed(b);
  CHECK_FALSE(plain.time);
  CHECK(plain.get("size") == "1234");
  CHECK(plain.get("from") == "<a@b.example>");
  CHECK_FALSE(plain.get("to"));
}

TEST_CASE("mailstats takes the year of syslog stamps from its caller", "[mailstats]") {
  Utc utc;
  LogLine l;
  REQUIRE(parse_line("Nov 30 14:45:11 vm send: msg=1 end", 2025, l) == ParseResult::ours);
  CHECK(*l.time == Approx(t_14_45_11 - 365 * 86400.0));
}

TEST_CASE("mailstats puts a syslog date ahead of now in the year before", "[mailstats]") {
  Utc utc;
  std::time_t now = std::time(nullptr);
  for (std::time_t ahead : {std::time_t(-3 * 86400), std::time_t(3 * 86400)}) {
    std::time_t when = now + ahead;
    std::tm tm{};
    ::gmtime_r(&when, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    LogLine l;
    REQUIRE(parse_line(std::string(stamp) + " vm send: msg=1 end", 0, l) == ParseResult::ours);
    REQUIRE(l.time);
    std::time_t got = static_cast<std::time_t>(*l.time);
    std::tm back{};
    ::gmtime_r(&got, &back);
    INFO(stamp);
    CHECK(back.tm_year == (ahead > 0 ? tm.tm_year - 1 : tm.tm_year));
    CHECK(back.tm_mon == tm.tm_mon);
    CHECK(back.tm_mday == tm.tm_mday);
  }
}

TEST_CASE("mailstats reads the counted lines and their quoted values", "[mailstats]") {
  auto d = parsed(
      R"(send: msg=9 to=<x@r.example> channel=remote relay=mx.r.example[192.0.2.1]:25 delay=12.5 )"
      R"(delays=0.1/12.4 dsn=4.4.1 status=deferred reason="421 say \"later\" \\ now")");
  CHECK(d.kind == LogLine::Kind::delivery);
  CHECK(d.get("reason") == R"(421 say "later" \ now)");
  CHECK(d.get("delay") == "12.5");
  CHECK(parsed("smtpd[4]: msg=9 accepted client=192.0.2.7 helo=h from=<> size=10 nrcpt=1").kind ==
        LogLine::Kind::accepted);
  auto r = parsed(R"(smtpd: reject client=192.0.2.7 to=<n@h> code=550 reason="no such user")");
  CHECK(r.kind == LogLine::Kind::reject);
  CHECK(r.msg.empty());
  CHECK(parsed("send: msg=9 bounce=10").kind == LogLine::Kind::bounce);
  CHECK(parsed("send: msg=9 end").kind == LogLine::Kind::end);
  CHECK(parsed("send: msg=9 end\r").kind == LogLine::Kind::end);
}

TEST_CASE("mailstats ignores other lines and counts broken ones", "[mailstats]") {
  parsed("", ParseResult::other);
  parsed("garbage", ParseResult::other);
  parsed("remote: msg=9 end", ParseResult::other);
  parsed("send: status: 3 messages in the queue", ParseResult::other);
  parsed("smtpd: msg=9 new size=1", ParseResult::other);
  parsed("send: msg=9 new from=<a@b", ParseResult::ours);
  parsed("Nov 30 14:45:11 vm junk words here send: msg=9 end", ParseResult::other);
  // A line the logger cut inside its last quoted value still counts.
  auto cut_reason = parsed(R"(send: msg=9 to=<x@y> status=bounced reason="550 5.1.1 a long reply cut...)");
  CHECK(cut_reason.kind == LogLine::Kind::delivery);
  parsed("send: msg=9 to=<x@y> status=lost", ParseResult::malformed);
  parsed("send: msg= end", ParseResult::malformed);
  parsed("Nov 99 14:45:11 vm send: msg=9 end", ParseResult::other);
  parsed("2026-13-30T14:45:11Z send: msg=9 end", ParseResult::other);
  std::string cut = "@400000006b0d8c01075bca";
  parsed(cut, ParseResult::other);
}

TEST_CASE("mailstats reads the dates of --since and --until", "[mailstats]") {
  Utc utc;
  CHECK(parse_when("2026-11-30") == std::time_t(1795996800));
  CHECK(parse_when("2026-11-30T14:45") == std::time_t(1796049900));
  CHECK(parse_when("2026-11-30 14:45:11") == std::time_t(1796049911));
  CHECK_FALSE(parse_when("30/11/2026"));
  CHECK_FALSE(parse_when("2026-11-30T14"));
  CHECK_FALSE(parse_when("2026-11-30T14:45:11junk"));
}

TEST_CASE("mailstats groups similar reasons", "[mailstats]") {
  CHECK(normalise_reason("550 5.1.1 <bob@example.org>: Recipient address rejected") ==
        "550 5.1.1 <ADDR>: Recipient address rejected");
  CHECK(normalise_reason("250 2.0.0 Ok: queued as 4Fz9Kq1x2") == "250 2.0.0 Ok: queued as N");
  CHECK(normalise_reason("connect to 192.0.2.1:25: timed out after 300 seconds") ==
        "connect to IP:N: timed out after N seconds");
  CHECK(normalise_reason("user carol@example.net is over quota (#4.2.2)") == "user ADDR is over quota (#4.2.2)");
  CHECK(normalise_reason("did 0+1+0") == "did N+N+N");
  CHECK(normalise_reason("250 Ok: queued as A1B2C3D4E5 (TLSv1.3)") == "250 Ok: queued as N (TLSv1.N)");
  CHECK(normalise_reason("no route to [2001:db8::1]") == "no route to [IP]");
  CHECK(normalise_reason(std::string(5000, 'x')).size() == 120);
}

TEST_CASE("mailstats' tables stay bounded and say so", "[mailstats]") {
  TopTable t(3);
  for (auto k : {"a", "b", "c", "a", "d", "e", "a"}) t.add(k, 10);
  CHECK(t.size() == 3);
  CHECK(t.truncated());
  CHECK(t.left_out().count == 2);
  auto top = t.top(2);
  REQUIRE(top.size() == 2);
  CHECK(top[0].first == "a");
  CHECK(top[0].second.count == 3);
  CHECK(top[0].second.bytes == 30);
  CHECK(top[1].first == "b");
  TopTable long_keys;
  long_keys.add(std::string(1 << 20, 'k'));
  CHECK(long_keys.top(1)[0].first.size() == 200);
}

TEST_CASE("mailstats' delay percentiles", "[mailstats]") {
  Delays d;
  CHECK(d.percentile(50) == 0);
  for (int i = 1; i <= 100; ++i) d.add(i);
  CHECK(d.count() == 100);
  CHECK(d.percentile(50) == 50);
  CHECK(d.percentile(90) == 90);
  CHECK(d.percentile(99) == 99);
  CHECK(d.max() == 100);
  Delays one;
  one.add(3604.25);
  CHECK(one.percentile(50) == Approx(3604.25));
  Delays many;  // past 50000 distinct values: three significant digits, bounded
  for (int i = 0; i < 60000; ++i) many.add(1000 + i * 0.01);
  CHECK(many.count() == 60000);
  CHECK(many.percentile(50) == Approx(1300).epsilon(0.01));
  CHECK(many.max() == Approx(1599.99));
}

TEST_CASE("mailstats follows a message from queue to end", "[mailstats]") {
  Utc utc;
  Tally t;
  for (auto text : {
           "2026-11-30T10:00:00Z send: msg=7 new from=<a@b.example> size=500 nrcpt=2",
           "2026-11-30T10:00:01Z send: msg=7 to=<x@r.example> channel=remote relay=r delay=1 delays=0/1 "
           "dsn=4.0.0 status=deferred reason=\"421 later\"",
           "2026-11-30T10:00:02Z send: msg=7 to=<y@local> channel=local relay=local delay=2 delays=0/2 "
           "dsn=2.0.0 status=sent reason=\"did 0+0+1\"",
           "2026-11-30T11:00:02Z send: msg=7 to=<x@R.example> channel=remote relay=r delay=3600 delays=3600/0 "
           "dsn=2.0.0 status=sent reason=\"250 ok\"",
           "2026-11-30T10:30:00Z send: msg=7 new from=<a@b.example> size=500 nrcpt=2",
           "2026-11-30T11:00:03Z send: msg=7 end",
           "2026-11-30T11:00:04Z send: msg=7 to=<late@r.example> channel=remote delay=9 status=sent",
       }) {
    LogLine l;
    REQUIRE(parse_line(text, 2026, l) == ParseResult::ours);
    t.add(l);
  }
  CHECK(t.received.count == 1);
  CHECK(t.received.bytes == 500);
  CHECK(t.repeated == 1);  // send met it again after a restart
  CHECK(t.delivered.count == 3);
  CHECK(t.delivered.bytes == 1000);  // the line after end knows no size
  CHECK(t.deferred == 1);
  CHECK(t.deferred_messages == 1);
  CHECK(t.domains.top(1)[0].first == "r.example");
  CHECK(t.domains.top(1)[0].second.count == 2);
  CHECK(t.hours[10].in.count == 1);
  CHECK(t.hours[11].out.count == 2);
  CHECK(t.delays_local.max() == 2);
  CHECK(t.delays_remote.percentile(50) == 9);
}

TEST_CASE("mailstats' HTML report escapes log text", "[mailstats]") {
  Tally t;
  LogLine l;
  REQUIRE(parse_line(R"(send: msg=1 new from="<x@y><script>alert(1)</script>" size=1)", 2026, l) ==
          ParseResult::ours);
  t.add(l);
  auto html = render_html(build_report(t, 10));
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
  auto text = render_text(build_report(t, 10));
  CHECK(text.find("<x@y><script>") != std::string::npos);
}
