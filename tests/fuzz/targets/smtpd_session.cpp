// Fuzz target: a whole smtpd session (src/smtpd: session, policy, message,
// smtp_data), driven in-process through NetIO's Transport seam, with the
// control files of a scratch home (fuzz_conf.cpp) and the queue replaced
// by fake_queue.cpp. Input: [settings "\0\0\0"] what a client sends after
// connecting. settings[0] picks the client (remote, remote with
// RELAYCLIENT, local caller) and, with bit 8 for a remote one,
// submission over a TLS session that is already on, where the password
// "pw" logs in; settings[1] the queue's behaviour; the rest cuts the
// input into reads. Checks what a postmaster relies on: the
// session ends; replies stay bounded; smtpd answers "250 ok ... msg ID"
// exactly as often as the queue took a message; every message given to
// the queue with an envelope has valid addresses and a recipient, starts
// with smtpd's Received: line, keeps within databytes, and holds not one
// CR (CRLF became LF, and a lone CR refuses the message). In submission a
// queued message came from a login (ESMTPSA), from a sender it owns, and
// has a Date: and a Message-ID:.
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "fake_queue.hpp"
#include "login/login_parent.hpp"
#include "login/login_request.hpp"
#include "mail/address.hpp"
#include "mail/header.hpp"
#include "mail/conf.hpp"
#include "smtpd/smtpd.hpp"

using namespace postern;

namespace {

void make_home() {
  static bool done = false;
  if (done) return;
  done = true;
  std::string c = std::string(conf::home) + "/control/";
  fuzz::write_file(c + "me", "mx.fuzz.example\n");
  fuzz::write_file(c + "rcpthosts", "fuzz.example\n.sub.fuzz.example\nvirt.example\n");
  fuzz::write_file(c + "locals", "fuzz.example\nlocalhost\n");
  fuzz::write_file(c + "virtualdomains", "virt.example:joe\n");
  fuzz::write_file(c + "databytes", "20000\n");
  fuzz::write_file(c + "maxrcpt", "5\n");
  fuzz::write_file(c + "badmailfrom", "bad@fuzz.example\n@spam.example\n");
  CdbWriter w;
  if (!w.start(c + "recipients.cdb") || !w.add("=alice", "") || !w.add("=postmaster", "") || !w.add("+joe-", "") ||
      !w.finish())
    fuzz::fail("recipients.cdb");
}

// A TLS session that is on from the start, as after tlsd -i.
class FakeTls : public smtpd::Tls {
 public:
  bool can_start() const override { return false; }
  bool active() const override { return true; }
  bool implicit() const override { return true; }
  bool wait_implicit(int) override { return true; }
  bool start(NetIO&) override { return false; }
  std::string describe() const override { return "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"; }
};

bool has_field(const std::string& text, std::string_view name) {
  auto m = header::split_message(text);
  return header::find(m.fields, name) != nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  make_home();
  std::string_view settings, input;
  fuzz::split_settings(data, size, settings, input);
  unsigned char who = settings.size() > 0 ? static_cast<unsigned char>(settings[0]) : 0;
  unsigned char queue = settings.size() > 1 ? static_cast<unsigned char>(settings[1]) : 0;
  std::string_view cuts = settings.size() > 2 ? settings.substr(2) : std::string_view();

  smtpd::Client client;
  client.ip = "192.0.2.7";
  if (who % 3 == 1) client.relayclient = who & 4 ? "" : "-relayed";
  if (who % 3 == 2) {
    client.local = true;
    client.uid = 1000;
    client.relayclient = "";
  }
  fuzz::queued().clear();
  auto& qb = fuzz::queue_behaviour();
  qb.start_fails = queue % 7 == 1;
  qb.write_fails = queue % 7 == 2;
  qb.exit_code = queue % 7 == 3 ? 71 : queue % 7 == 4 ? 31 : 0;

  smtpd::Policy policy;
  std::string why;
  if (!policy.load(why, client.local)) fuzz::fail("policy.load", why);
  fuzz::FeedTransport t(input, cuts);
  t.keep_output(true);
  NetIO io(t, static_cast<int>(policy.timeout));
  smtpd::Session session(io, policy, client);
  bool submission = (who & 8) && !client.local;
  FakeTls tls;
  smtpd::SenderLogins senders;
  if (submission) {
    if (!senders.load(why)) fuzz::fail("senders.load", why);
    session.tls = &tls;
    session.submission = true;
    session.senders = &senders;
    session.check_login = [](std::string_view request) -> int {
      auto r = login::decode_request(request);
      FUZZ_CHECK(r.has_value(), request);
      return r->password == "pw" ? login::reply_authenticated : login::reply_refused;
    };
  }
  FUZZ_CHECK(session.run() == 0, input);

  // At most a few replies per command line, and the session ends where the
  // input does or before.
  FUZZ_CHECK(t.written() <= 2000 + 600 * (input.size() + 1), input);
  // A 250 after DATA only for a message the queue took (invariant 1 of
  // DESIGN.md): as many such replies as queued messages.
  std::size_t accepted_replies = 0, queued_ok = 0;
  const std::string& out = t.output();
  for (std::size_t pos = 0; pos < out.size();) {
    std::size_t end = out.find("\r\n", pos);
    if (end == std::string::npos) end = out.size();
    std::string_view line(out.data() + pos, end - pos);
    if (line.rfind("250 2.0.0 ok ", 0) == 0 && line.size() >= 10 && line.substr(line.size() - 10) == " msg 12345")
      ++accepted_replies;
    pos = end + 2;
  }
  for (auto& q : fuzz::queued()) queued_ok += q.finished && qb.exit_code == 0;
  FUZZ_CHECK(accepted_replies == queued_ok, out);
  for (auto& q : fuzz::queued()) {
    if (!q.finished) continue;
    FUZZ_CHECK(!q.envelope.recipients.empty(), input);
    FUZZ_CHECK(valid_envelope_address(q.envelope.sender), q.envelope.sender);
    for (auto& r : q.envelope.recipients) FUZZ_CHECK(!r.empty() && valid_envelope_address(r), r);
    FUZZ_CHECK(q.text.find('\r') == std::string::npos, q.text);
    FUZZ_CHECK(q.text.rfind("Received: from ", 0) == 0, q.text);
    FUZZ_CHECK(q.text.size() <= 20000 + 1000, q.text);
    if (!submission) continue;
    FUZZ_CHECK(q.text.find("SMTPSA id ") != std::string::npos, q.text);
    FUZZ_CHECK(q.envelope.sender.empty() || senders.owns(q.envelope.sender.substr(0, q.envelope.sender.find('@')),
                                                         q.envelope.sender),
               q.envelope.sender);
    FUZZ_CHECK(has_field(q.text, "Date") && has_field(q.text, "Message-ID"), q.text);
  }
  return 0;
}
