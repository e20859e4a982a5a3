// children: lspawn's two kinds of long-lived children and how they start
// (lspawn(8), "Inside lspawn"). Both are forked by the root parent, never
// exec anything, and talk to it over one SOCK_SEQPACKET socket
// (delivery/agent_wire.hpp), which is their fd 1; fd 0 is /dev/null, fd 2
// the log, and nothing else of the parent's is left open in them.
//
//   the lookup process  posternp, in /: answers one user lookup
//                       (delivery/user_lookup.hpp) a request, for ever
//   a delivery agent    one recipient user id: limits of control/*local set
//                       while root, then the user for good; runs one
//                       delivery (delivery/local_delivery.hpp) a request,
//                       with the message file that came with it as fd 0
//   a forwarder         posternr: one message for a user whom the directory
//                       places on another mailbox host; runs remote(8)
//                       for it with the message as fd 0, answers as an
//                       agent does, and exits
//
// Each exits when the parent closes its end. Trusts the parent.
#pragma once
#include <sys/types.h>

#include <functional>

#include "mail/user_limits.hpp"

namespace postern::lspawn {

// Forks a child that runs body (which never returns) with the fds above;
// sets sock to the parent's end. The pid, or -1 (errno set).
pid_t fork_child(int& sock, const std::function<void()>& body);

// The lookup process's body: as uid/gid (posternp).
[[noreturn]] void lookup_main(uid_t uid, gid_t gid);

// An agent's body: limits as given (the CPU limit already raised for
// several deliveries, see spawner.cpp), then uid/gid. It exits after the
// answer that brings its CPU time to retire_cpu seconds (0: never for
// that) or after max_deliveries.
[[noreturn]] void agent_main(uid_t uid, gid_t gid, const UserLimits& limits, unsigned long retire_cpu);

constexpr unsigned long max_deliveries = 1000;

// A forwarder's body: as uid/gid (posternr). Its one request is
// encode_forward_request's, with the message file's descriptor.
[[noreturn]] void forward_main(uid_t uid, gid_t gid);
std::string encode_forward_request(const std::string& host, const std::string& sender, const std::string& rcpt);

}  // namespace postern::lspawn
