// tlsd's parts (see main.cpp and tlsd(8)): the server contexts built from
// the certificate files and the policy control files (certificates.cpp),
// the shared session ticket keys (tickets.cpp), and the relay between the
// network and the protocol program (relay.cpp). Everything here runs in
// tlsd's parent process, as the TLS user, for one connection.
#pragma once
#include <openssl/ssl.h>

#include <sys/types.h>

#include <string>

namespace postern::tlsd {

// control/tls/default.pem, and the directory of the NAME.pem files.
std::string certificate_dir();
std::string default_certificate();

// A server context for the key and chain in pem, with the policy of
// control/tlsprotocols, tlsciphers, tlsciphersuites, no compression, no
// renegotiation, session tickets (tickets.cpp) and, when
// control/tls/clientca.pem exists, a request for a client certificate.
// nullptr (logged) when pem cannot be used. The first context made also
// answers SNI by switching to NAME.pem when there is one.
SSL_CTX* make_context(const std::string& pem);

// The SNI name the client asked for ("" when none), lower case.
const std::string& requested_name();

// Loads (and when due, rotates) conf-home/tls/ticketkeys and installs
// the ticket callback on ctx. False (logged) when tickets cannot be used:
// the context then issues none.
bool load_ticket_keys();
void use_tickets(SSL_CTX* ctx);

// The connection tlsd relays, as main.cpp set it up: the network on 0
// (in) and 1 (out), the program's data and ctl sockets, and a pidfd of the
// program (-1 when the kernel has none: then the end of its output ends
// the relay).
struct Session {
  int data = -1, ctl = -1, pidfd = -1;
  pid_t child = -1;
  bool implicit = false;
  std::string remote_ip;
  // How long a handshake (and the program's "go" after it) may take, and
  // how long the connection may stay silent both ways: longer than any
  // protocol program's own timeout, which is the one that should fire
  // (control/timeouttlsdhandshake, control/timeouttlsd).
  int handshake_seconds = 60;
  int idle_seconds = 3600;
};
// Relays until the connection is over; returns tlsd's exit code.
int serve(Session& s);

// OpenSSL's last error, as text, and the queue cleared.
std::string openssl_error();

// The facts packet of a finished handshake (tls_channel.hpp's format).
std::string facts_packet(SSL* ssl);

}  // namespace postern::tlsd
