// agent_wire: the datagrams lspawn exchanges with its long-lived children
// (lspawn(8), "Inside lspawn"), each one SOCK_SEQPACKET record, so a record
// is read whole or not at all and never runs into the next:
//
//   lookup request  lspawn -> lookup:  the local part, NUL, the domain
//   lookup answer   lookup -> lspawn:  'U' encode_mail_user(user)
//                                    | 'H' the mailbox host to send it to
//                                    | 'E' why no user (a temporary failure)
//   agent request   lspawn -> agent (the user):  local's arguments (LocalArgs)
//                                    as NUL-ended fields, and the message
//                                    file's descriptor (SCM_RIGHTS)
//   agent answer    agent -> lspawn:  the exit code as text, NUL, the text,
//                                    NUL, 1 when the agent exits after it
//                                    (it retires: lspawn sends it no more)
//                                    or else 0
//
// Every record is at most max_record bytes. The answers come from less
// privileged processes and are checked field by field here; nullopt on
// anything malformed. The requests come from root and are still bounded.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "delivery/local_delivery.hpp"
#include "mail/assign.hpp"

namespace postern::delivery {

constexpr std::size_t max_record = 16384;
// The longest answer text lspawn keeps (as it kept of local's output).
constexpr std::size_t max_answer_text = 1000;

struct LookupAnswer {
  std::optional<MailUser> user;
  std::string error;     // when there is no user nor mailhost
  std::string mailhost;  // the user's mail goes to this host
};

std::string encode_lookup_answer(const LookupAnswer& a);
std::optional<LookupAnswer> decode_lookup_answer(std::string_view bytes);

std::string encode_agent_request(const LocalArgs& a);
std::optional<LocalArgs> decode_agent_request(std::string_view bytes);

// outcome.code is one of status::ok, ok_stop, permanent, temporary.
struct AgentAnswer {
  Outcome outcome;
  bool last = false;
};
std::string encode_agent_answer(const AgentAnswer& a);
std::optional<AgentAnswer> decode_agent_answer(std::string_view bytes);

// One record on a SOCK_SEQPACKET socket, with fd attached when it is not
// -1; never blocks (MSG_DONTWAIT): a full socket is a failure. False with
// errno set.
bool send_record(int sock, std::string_view bytes, int fd = -1);

// One record of at most max_record bytes, and a descriptor if one came
// (close-on-exec; *fd is -1 when none; without fd any that came is
// closed). 1: a record, 0: end of file, -1: an error or a record cut
// short (errno EMSGSIZE), EAGAIN when nothing waits.
int receive_record(int sock, std::string& bytes, int* fd = nullptr, bool wait = false);

}  // namespace postern::delivery
