// log_lines: smtpd's key=value lines (smtpd(8), LOG), the contract the
// traffic report parses: one "accepted" line per message queued, one
// "reject" line per refusal that ends a recipient, a message or the
// session. Trusts nothing in the values (the client chose most of them):
// each goes through log::kv.
#include "base/log.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

namespace {

std::string angle(const std::string& address) { return "<" + address + ">"; }

}  // namespace

std::string reject_line(const Client& client, const std::string& helo, const std::string* from,
                        const std::string* to, std::string_view reply, std::string_view why) {
  std::string out = "reject " + log::kv("client", client.name());
  if (!helo.empty()) out += " " + log::kv("helo", helo);
  if (from) out += " " + log::kv("from", angle(*from));
  if (to) out += " " + log::kv("to", angle(*to));
  // "550 5.1.1 text": the code, the enhanced code when there is one, and
  // the text as the reason unless a better one is given.
  std::string_view code = reply.substr(0, 3), rest = reply.size() > 4 ? reply.substr(4) : std::string_view();
  std::string_view dsn;
  auto space = rest.find(' ');
  std::string_view first = rest.substr(0, space);
  if (first.size() >= 5 && first[0] == code[0] && first[1] == '.') {
    dsn = first;
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  out += " " + log::kv("code", code);
  if (!dsn.empty()) out += " " + log::kv("dsn", dsn);
  return out + " " + log::kv("reason", why.empty() ? rest : why);
}

std::string accepted_line(const Client& client, const std::string& helo, const Envelope& envelope,
                          const Incoming& in, const std::string& tls_version, const std::string& login) {
  std::string out = log::kv("msg", in.queue_id().empty() ? "-" : in.queue_id()) + " accepted " +
                    log::kv("client", client.name()) + " " + log::kv("helo", helo) + " " +
                    log::kv("from", angle(envelope.sender)) + " " + log::kv("size", std::to_string(in.size())) +
                    " " + log::kv("nrcpt", std::to_string(envelope.recipients.size()));
  if (!in.message_id().empty()) out += " " + log::kv("message-id", in.message_id(), 200);
  // received-id ties the line to the 250 reply and the Received: field.
  return out + " " + log::kv("tls", tls_version.empty() ? "none" : tls_version) + " " +
         log::kv("auth", login.empty() ? "-" : login, 64) + " " + log::kv("received-id", in.received_id());
}

}  // namespace postern::smtpd
