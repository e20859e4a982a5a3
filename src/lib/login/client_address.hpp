// client_address: what the login stages of pop3d and imapd need to know
// about where a client is. Trusts TCPREMOTEIP to be what tcpserver or
// tcp-env put there, and its control file; returns plain answers.
#pragma once
#include <optional>

namespace postern::login {

// True when ip (TCPREMOTEIP) is a loopback address: 127.0.0.0/8, ::1, or
// ::ffff:127.x. A password typed on this host never crossed a network, so
// it may be sent without TLS. False for no address at all.
bool loopback_client(const char* ip);

// Whether this connection may log in without TLS: the client is on this
// host (TCPREMOTEIP is loopback), or control/plaintextlogin is nonzero
// (Dovecot's disable_plaintext_auth = no). nullopt when the control file
// is malformed.
std::optional<bool> plaintext_login_allowed();

}  // namespace postern::login
