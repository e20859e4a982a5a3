// login_parent: the login machinery pop3d and imapd share (pop3d(8),
// imapd(8)). At each connection the server splits at once into a
// privileged parent and an unprivileged pre-auth stage joined by a
// SOCK_SEQPACKET socketpair, so no code reading the network runs as root:
//
//   server (root) -- only forks checkpassword, reads one bounded packet
//     |-- pre-auth stage (posternd): speaks the protocol until a login,
//     |     sends [prefix] "user\0password\0timestamp\0" up the socket
//     `-- checkpassword (root, short) -exec as the user-> mailbox stage
//
// The parent never reads the network: it holds the client's descriptors
// only to hand them to checkpassword. It takes one packet at a time, at
// most max_packet bytes, which must be the server's prefix (imapd: the
// login tag; pop3d: none) followed by exactly one well-formed
// checkpassword request; anything else ends the connection. It runs
// checkpassword with the request on descriptor 3 and a clean environment
// (PATH, the TCP* variables, PROTO, and what the prefix stands for), waits
// for it (and for the mailbox stage it becomes), and answers one byte. A
// failed login is logged with TCPREMOTEIP and answered only after a delay;
// after max_failures the pre-auth stage is told to give up.
//
// The parent also bounds what the less privileged parts may take: it
// sets the user's resource limits (user_limits.hpp) on checkpassword
// before it runs, so the mailbox stage it becomes inherits them and cannot
// raise them; when the mailbox stage dies of a signal (over its CPU time,
// out of memory) the parent tells the client with stopped_goodbye. And it
// ends a connection with no login within login_deadline seconds itself,
// killing the pre-auth stage and writing login_goodbye to the client: the
// stage that reads the network need not be trusted to keep the deadline.
//
// For SMTP AUTH (authenticate_only) the pre-auth stage is the whole
// session: a right password is answered reply_authenticated and the stage
// goes on speaking SMTP as posternd; checkpassword only proves the
// password by running a program that exits 0.
//
// In single-user mode, or when started by someone else than root, every
// part runs as the invoking user.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/user_limits.hpp"

namespace postern::login {

// Replies from the parent to the pre-auth stage, one byte each.
constexpr char reply_done = 'K';      // the mailbox stage ran: end quietly
constexpr char reply_refused = 'N';   // wrong user or password
constexpr char reply_too_many = 'Q';  // refused, and no more tries
constexpr char reply_temp = 'T';      // temporary failure
constexpr char reply_authenticated = 'A';  // authenticate_only: the password is right, go on

constexpr std::size_t max_packet = 1100;
constexpr int max_failures = 5;
constexpr unsigned failure_delay = 2;  // seconds

struct Checker {
  std::string checkpassword;  // run as: checkpassword mailbox maildir
  std::string mailbox;        // the mailbox stage
  std::string maildir;        // its argument: the Maildir, relative to home
  bool apop = false;          // requests may carry an APOP timestamp
  // SMTP AUTH (smtpd -s): checkpassword runs mailbox (a program that only
  // exits 0, as qmail's SMTP AUTH patches run /bin/true), and a login
  // answers reply_authenticated: the pre-auth stage goes on serving, and
  // the parent only waits for it to end.
  bool authenticate_only = false;
  // What comes before the checkpassword request in a packet: given the
  // packet, returns the length of that prefix and appends the environment
  // variables ("NAME=value") it stands for to env; nullopt when it is
  // malformed. Empty: packets are the request alone.
  std::function<std::optional<std::size_t>(std::string_view packet, std::vector<std::string>& env)> prefix;
  std::string service;            // "pop3d" or "imapd", for log lines
  UserLimits limits;              // set on checkpassword and the mailbox stage
  unsigned long login_deadline = 0;  // seconds from connect to login; 0: none
  std::string login_goodbye;      // to the client when that deadline passes
  std::string stopped_goodbye;    // to the client when the mailbox stage is killed
};

// A checker for a server that asks only whether a password is right
// (smtpd's AUTH, authhttp): conf-home's checkpassword running /bin/true,
// authenticate_only.
Checker password_checker();

// What both servers do first: SIGPIPE ignored, and no core files (a dump
// of the parent or of checkpassword could hold a password).
void harden();

// Reads the servers' options into checker: -c checkpassword (another
// checkpassword program) and -m maildir; dies with usage on anything else.
void parse_options(int argc, char** argv, const char* program, Checker& checker);

// Sets checker's service, its login deadline (control/deadline<service>login,
// 180 s by default: a client that never logs in holds a connection only so
// long, however busy it keeps it), the two goodbyes, given in the
// protocol's terms, and the user limits (control/memory<service>, ...).
// False with why set when a control file is unreadable or malformed.
bool load_session_rules(Checker& checker, const std::string& service, std::string login_goodbye,
                        std::string stopped_goodbye, std::string& why);

// Splits the server as above: the child becomes the pre-auth stage
// (conf::user_daemon when root and not single-user, in /) and calls
// preauth with its end of the socket, which must not return; the parent
// serves it. On a failure before the split, temp_reply goes to the client
// on descriptor 1 and the process exits 111.
[[noreturn]] void split(const Checker& checker, std::string_view temp_reply,
                        const std::function<void(int fd)>& preauth);

// The parent: serves the pre-auth stage's requests until it exits, then
// exits with its status.
[[noreturn]] void parent(const Checker& checker, int fd, int child);

// The pre-auth side: sends one packet to the parent and waits for its
// answer, which it returns; send_failed when the packet could not be
// sent, no_answer when the parent closed without answering.
constexpr int send_failed = -1;
constexpr int no_answer = -2;
int ask(int fd, std::string_view packet);

}  // namespace postern::login
