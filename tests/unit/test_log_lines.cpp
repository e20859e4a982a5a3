// Unit tests for the key=value log lines tools parse: log::kv's quoting
// (base/log) and send's attempt lines (src/send/log_lines): the DSN code
// and the relay taken from a delivery's text.
#include <catch2/catch.hpp>

#include "base/log.hpp"
#include "send/log_lines.hpp"

using namespace postern;
namespace ll = postern::send::log_lines;

TEST_CASE("kv quotes only what needs it, and escapes quotes and backslashes") {
  CHECK(log::kv("to", "<a@example.org>") == "to=<a@example.org>");
  CHECK(log::kv("from", "<>") == "from=<>");
  CHECK(log::kv("reason", "") == "reason=\"\"");
  CHECK(log::kv("reason", "no such user") == "reason=\"no such user\"");
  CHECK(log::kv("from", "<\"a b\"@x>") == "from=\"<\\\"a b\\\"@x>\"");
  CHECK(log::kv("x", "back\\slash") == "x=\"back\\\\slash\"");
  // A line break cannot split the line, a control byte is shown.
  CHECK(log::kv("reason", "two\nlines\x01") == "reason=\"two lines\\\\x01\"");
}

TEST_CASE("the DSN code comes from qmail's (#x.y.z) or the SMTP reply, when its class fits") {
  CHECK(ll::dsn("Sorry, no mailbox here by that name. (#5.1.1)", 'B') == "5.1.1");
  CHECK(ll::dsn("Remote host mx[1.2.3.4] said: 550 5.7.1 relaying denied (no TLS)", 'B') == "5.7.1");
  CHECK(ll::dsn("Remote host mx[1.2.3.4] said: 450 4.2.1 busy", 'P') == "4.2.1");
  CHECK(ll::dsn("Remote host mx[1.2.3.4] said: 250 2.0.0 ok as 12 (TLS TLSv1.3 X, certificate verified)", 'D') ==
        "2.0.0");
  CHECK(ll::dsn("did 0+1+1+2", 'D') == "2.0.0");
  CHECK(ll::dsn("Unable to chdir to maildir. (#4.2.1)", 'P') == "4.2.1");
  // The lifetime turned a deferral into a bounce: its 4.x.x stays.
  CHECK(ll::dsn("This message could not be delivered ... was: busy (#4.4.1)", 'B') == "4.4.1");
  // A code of the wrong class is not taken; nor a bare number.
  CHECK(ll::dsn("Remote host said: 550 5.1.1 no", 'P') == "4.0.0");
  CHECK(ll::dsn("version 5.1.1 of something", 'B') == "5.0.0");
  CHECK(ll::dsn("program exited 100", 'B') == "5.0.0");
}

TEST_CASE("the relay is the host a remote delivery's text names") {
  CHECK(ll::relay("Remote host mx.example.org[192.0.2.1] said: 250 ok") == "mx.example.org[192.0.2.1]");
  CHECK(ll::relay("Remote host [192.0.2.1][192.0.2.1]:2525 said: 250 ok") == "[192.0.2.1][192.0.2.1]:2525");
  CHECK(ll::relay("Remote host mx[2001:db8::1]:587 said: 250 ok") == "mx[2001:db8::1]:587");
  CHECK(ll::relay("No host found for example.invalid. (#5.1.2)") == "none");
}

TEST_CASE("an attempt's line has every key, in order") {
  ll::Attempt a;
  a.id = "1AbC";
  a.address = "bob@example.org";
  a.channel = 'R';
  a.state = 'P';
  a.arrived = 100.0;
  a.started = 101.5;
  a.ended = 102.25;
  a.text = "Remote host mx[192.0.2.1] said: 451 4.3.0 \"later\"";
  CHECK(ll::attempt(a) ==
        "msg=1AbC to=<bob@example.org> channel=remote relay=mx[192.0.2.1] delay=2.250 delays=1.500/0.750 "
        "dsn=4.3.0 status=deferred reason=\"Remote host mx[192.0.2.1] said: 451 4.3.0 \\\"later\\\"\"");
  CHECK(ll::new_message("1AbC", "", 120, 3) == "msg=1AbC new from=<> size=120 nrcpt=3");
}
