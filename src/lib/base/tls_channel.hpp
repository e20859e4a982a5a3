// tls_channel: the protocol program's side of tlsd(8). tlsd sits between
// the client's socket and smtpd, pop3d or imapd, holds the private key and
// speaks TLS; the program sees plain bytes on descriptors 0 and 1 and talks
// to tlsd over a control socket (TLSCTLFD, SOCK_SEQPACKET): tlsd sends a
// "facts" packet when a handshake is done, the program asks for STARTTLS
// with "starttls" and lets decrypted bytes flow with "go". It trusts tlsd
// (its parent) but still checks every packet; it returns the facts for
// Received: lines and logs. See tlsd(8) for the protocol.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace postern::tls {

struct Facts {
  std::string version, cipher, sni, peer_subject, peer_issuer, peer_fingerprint;
  int bits = 0;
  bool resumed = false, peer_verified = false, peer_cert = false;
};

// The largest facts packet tlsd sends.
constexpr std::size_t max_packet = 4096;

// Parses a facts packet; nullopt when it is not "ok" or malformed. Fuzzed.
std::optional<Facts> parse_facts(std::string_view packet);

class Channel {
 public:
  // The tlsd in front of this program, from TLSCTLFD/TLSMODE/TLSREADY;
  // nullopt when there is none. Marks the descriptor close-on-exec so no
  // child (queue, checkpassword, the mailbox stage) inherits it.
  static std::optional<Channel> from_environment();
  bool implicit() const { return implicit_; }
  bool can_start() const { return !implicit_ && ready_ && !active_ && !used_; }
  bool active() const { return active_; }
  const Facts& facts() const { return facts_; }
  // Implicit mode: waits (at most timeout seconds) for the facts packet.
  bool wait_implicit(int timeout);
  // STARTTLS: the caller has flushed its go-ahead reply. Asks tlsd for
  // the handshake, then throws away every byte waiting on in_fd and calls
  // discard for the caller's own buffered input (NetIO::discard_input):
  // all of it is plaintext sent before TLS. True when TLS is on; false:
  // the connection is over (log and exit).
  bool start(int in_fd, std::function<void()> discard, int timeout);
  // What tlsd said when the last start or wait failed ("no certificate",
  // "handshake", "timeout", ...), for the caller's log line.
  const std::string& error() const { return error_; }

 private:
  Channel(int fd, bool implicit, bool ready) : fd_(fd), implicit_(implicit), ready_(ready) {}
  bool receive_facts(int timeout);
  int fd_;
  bool implicit_, ready_;
  bool active_ = false, used_ = false;
  Facts facts_;
  std::string error_;
};

// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", for
// Received: comments and log lines.
std::string describe(const Facts&);

}  // namespace postern::tls
