// local_parts: the steps of a local delivery that local_delivery.cpp
// strings together (for the program local and for lspawn's delivery child
// alike). Everything here runs as the recipient, in the recipient's home
// directory, with the message on fd 0 (rewound before every use). Each
// step returns an Outcome (local_delivery.hpp). Internal to this floor:
// programs use local_delivery.hpp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "delivery/local_delivery.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/status.hpp"

namespace postern::delivery {

// local's arguments (LocalArgs), and what follows from them.
struct Context {
  std::string user, home, local, dash, ext, domain, sender, default_delivery;
  std::string recipient;  // local@domain
  std::string dtline;     // "Delivered-To: recipient\n"
  std::string rpline;     // "Return-Path: <sender>\n"
  std::string ufline;     // "From sender date\n"
  std::optional<std::string> default_part;  // DEFAULT, when a -default file matched
};

// local_message.cpp
// Makes fd 0 rewindable: a pipe (a hand test) is first copied to an
// unlinked temporary file.
Outcome prepare_message();
bool rewind_message();
// Refuses a message that already carries our Delivered-To: line, or too many.
Outcome check_loop(const Context& c);

// local_qmail_file.cpp
// Refuses a writable or sticky home directory (the current directory).
Outcome check_home();
// Finds and reads the .qmail file for the extension, or falls back to
// DEFAULTDELIVERY; sets c.default_part. `source` names where the text came
// from, for messages.
Outcome find_instructions(Context& c, std::string& text, std::string& source);

// local_program.cpp
// Runs |command; sets stop when it exited 99.
Outcome run_program(const Context& c, const std::string& command, bool& stop);

// local_forward.cpp
// An address from a .qmail line as it will go to the queue ("joe" gets
// "@domain"), or nullopt when it is no valid address.
std::optional<std::string> forward_address(const Context& c, const std::string& line);
// Injects the message once, for all the addresses, with our Delivered-To:.
Outcome forward(const Context& c, const std::vector<std::string>& to);

// local_quota.cpp: Maildir++ quotas (maildir_quota.hpp) on deliveries
// to a Maildir, with the user's limits from control/quotas.
struct QuotaCheck {
  bool on = false;  // the user has limits and the Maildir's usage is known
  std::string root;
  maildir_quota::Limits limits;
};
// Defers (4.2.2) a message that would not fit, and leaves smtpd's mark.
Outcome quota_before(const Context& c, const std::string& dir, QuotaCheck& q);
// Counts the delivered message in maildirsize and, when it crossed
// control/quotawarn's percentage, puts one warning into the Maildir.
void quota_after(const Context& c, const QuotaCheck& q, const std::string& dir, std::uint64_t size);

}  // namespace postern::delivery
