// client_address: what the login stages of pop3d, imapd and smtpd -s need
// to know about where a client is. Trusts its argument to be what
// tcpserver or tcp-env put in TCPREMOTEIP; returns plain answers.
#pragma once

namespace postern::login {

// True when ip (TCPREMOTEIP) is a loopback address: 127.0.0.0/8, ::1, or
// ::ffff:127.x. A password typed on this host never crossed a network, so
// it may be sent without TLS. False for no address at all.
bool loopback_client(const char* ip);

}  // namespace postern::login
