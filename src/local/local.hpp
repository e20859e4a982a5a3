// local: the parts of the delivery program that main.cpp strings together.
// Everything here runs as the recipient, in the recipient's home directory,
// with the message on fd 0 (rewound before every use). Each part returns an
// Outcome: a status code (0, 99, 100, 111 as in status.hpp) and the text
// that ends up in send's log and, for failures, in the bounce.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mail/status.hpp"

namespace postern::local {

// The arguments lspawn gives, and what follows from them.
struct Context {
  std::string user, home, local, dash, ext, domain, sender, default_delivery;
  std::string recipient;  // local@domain
  std::string dtline;     // "Delivered-To: recipient\n"
  std::string rpline;     // "Return-Path: <sender>\n"
  std::string ufline;     // "From sender date\n"
  std::optional<std::string> default_part;  // DEFAULT, when a -default file matched
};

struct Outcome {
  int code = status::ok;
  std::string text;
  bool ok() const { return code == status::ok || code == status::ok_stop; }
};

inline Outcome temporary(std::string text) { return {status::temporary, std::move(text)}; }
inline Outcome permanent(std::string text) { return {status::permanent, std::move(text)}; }

// message.cpp
// Makes fd 0 rewindable: a pipe (a hand test) is first copied to an
// unlinked temporary file.
Outcome prepare_message();
bool rewind_message();
// Refuses a message that already carries our Delivered-To: line, or too many.
Outcome check_loop(const Context& c);

// qmail_file.cpp
// Refuses a writable or sticky home directory (the current directory).
Outcome check_home();
// Finds and reads the .qmail file for the extension, or falls back to
// DEFAULTDELIVERY; sets c.default_part. `source` names where the text came
// from, for messages.
Outcome find_instructions(Context& c, std::string& text, std::string& source);

// program.cpp
// Runs |command; sets stop when it exited 99.
Outcome run_program(const Context& c, const std::string& command, bool& stop);

// forward.cpp
// An address from a .qmail line as it will go to the queue ("joe" gets
// "@domain"), or nullopt when it is no valid address.
std::optional<std::string> forward_address(const Context& c, const std::string& line);
// Injects the message once, for all the addresses, with our Delivered-To:.
Outcome forward(const Context& c, const std::vector<std::string>& to);

}  // namespace postern::local
