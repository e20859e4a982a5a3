// starttls: the STARTTLS command (RFC 3207), when tlsd is in front of
// smtpd and has a certificate. The handshake is tlsd's; smtpd only says
// "go ahead", hands over (Tls::start) and starts again from nothing.
// Plaintext that arrived before TLS never runs as a command (the
// CVE-2011-0411 class): commands pipelined behind STARTTLS refuse it and
// end the connection, and what arrives during the handshake is thrown
// away by Tls::start. Returns false to close the connection.
#include "base/log.hpp"
#include "base/strings.hpp"
#include "smtpd.hpp"

namespace postern::smtpd {

bool Session::starttls(const std::string& arg) {
  if (!tls || (!tls->can_start() && !tls->active())) {
    log::line("unrecognised command from {}: STARTTLS (no TLS here)", client_.name());
    return error("502 5.5.1 STARTTLS is not available here");
  }
  if (tls->active()) return error("554 5.5.1 TLS is already active");
  if (!trim(arg).empty()) return error("501 5.5.4 STARTTLS takes no arguments");
  if (io_.buffered() > 0) {
    // RFC 3207 4: a client must not pipeline after STARTTLS. Someone put
    // these bytes there; none of them may run, before TLS or after.
    refuse("554 5.5.1 commands after STARTTLS before TLS; closing the connection", nullptr,
           "refused STARTTLS: " + std::to_string(io_.buffered()) + " bytes were sent after it before TLS");
    return false;
  }
  reply("220 2.0.0 Ready to start TLS");
  if (!io_.flush()) return false;
  if (!tls->start(io_)) {
    log::line("TLS with {} failed; closing the connection", client_.name());
    return false;
  }
  // RFC 3207 4.2: everything known from before TLS is forgotten.
  reset();
  helo_.clear();
  extended_ = false;
  login_.clear();
  log::line("TLS with {}: {}", client_.name(), tls->describe());
  return true;
}

}  // namespace postern::smtpd
