// tcp_rules: the rules of a tcprules(1) database, as tcpserver applies
// them to a connection: the keys are the client's address, then its
// shorter prefixes ending in '.' (IPv4) or ':' (IPv6), then "" for the
// default; the first that is there decides. A deny rule refuses the
// connection; an allow rule's "+VAR=value" entries set variables
// (RELAYCLIENT, ...) and its "-VAR" entries remove them. Used by tcp-env
// (under inetd) and proxy-env (behind a proxy, on the client's own
// address). Trusts the database (root's); dies 111 when it cannot be read.
#pragma once
#include <string>

namespace postern::tcp_rules {

// False when the rules deny ip; true otherwise (no database: no rules,
// and nobody gets RELAYCLIENT, the safe side), with the variables set.
bool apply(const std::string& path, const std::string& ip);

}  // namespace postern::tcp_rules
