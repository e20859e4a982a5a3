// smtpd's parts: who the client is (client.cpp), the control files and
// the checks they decide (policy.cpp), which senders a login owns
// (senders.cpp), the message reader for DATA and BDAT (message.cpp), the
// protocol state machine (session.cpp) and its AUTH and STARTTLS commands
// (auth.cpp, starttls.cpp).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/cdb.hpp"
#include "mail/header.hpp"
#include "mail/envelope.hpp"
#include "mail/local_domains.hpp"
#include "base/netio.hpp"
#include "mail/queue_client.hpp"
#include "smtp_data.hpp"

namespace postern::smtpd {

// Bounds that no control file changes.
constexpr std::size_t max_command_line = 1000;  // RFC 5321 4.5.3.1.4 says 512; extensions need more
constexpr std::size_t data_piece = 65536;        // DATA lines longer than this arrive in pieces
constexpr int max_errors = 10;                   // bad commands before the connection is closed
constexpr int max_unknown_rcpts = 100;           // unknown recipients before it is closed
constexpr int max_commands = 10000;              // commands in one connection

struct Client {
  bool local = false;        // sendmail -bs: a local user on stdin/stdout
  std::string ip;            // TCPREMOTEIP
  std::string host;          // TCPREMOTEHOST, or empty
  std::string info;          // TCPREMOTEINFO, or empty
  std::optional<std::string> relayclient;  // RELAYCLIENT's value, when set
  unsigned uid = 0;          // the caller, in local mode
  // "1.2.3.4" or "local uid 1000", for log lines.
  std::string name() const;
};

// Works out the client from tcpserver's (or tcp-env's) variables; without
// them, from the socket on descriptor 0, or as a local caller when 0 is no
// socket.
Client identify_client(bool local_submission);

// No code reading the network runs as root (DESIGN.md). In a multi-user
// install a client from the network is refused when smtpd runs as root
// (tcpserver without -u and -g); a local caller who is root (sendmail -bs
// from root) gets smtpd as the daemon user instead. False, with why set,
// when smtpd must not go on.
bool leave_root(const Client& client, std::string& why);

class Policy {
 public:
  // Reads the control files; false with why set when one is unreadable.
  // local: the client is a local caller (see check_local).
  bool load(std::string& why, bool local);

  std::string me, greeting;
  unsigned long databytes = 0;    // 0: no limit
  unsigned long timeout = 1200;
  unsigned long max_rcpt = 1000;
  int max_hops = 100;

  bool bad_sender(const std::string& address) const;
  // May this client send to this recipient? rcpthosts, morercpthosts.cdb.
  bool relay_allowed(const std::string& address);
  enum class Rcpt { ok, unknown, error, full };
  // Unknown local recipients: the user directory (mail_directory.hpp) when
  // control/ldapserver names one, then control/recipients.cdb (when there
  // is one); full: the user (the local part, or its part before the first
  // '-') has an over-quota mark that local left (over_quota.hpp). why says
  // what decided an unknown or error, for the log. A recipient at a
  // domain of control/ldaprcpthosts (relayed here, a backup MX's) must be
  // known to the directory too.
  Rcpt check_local(const std::string& address, std::string& why);

 private:
  Rcpt check_relayed(const std::string& address, std::string& why);
  std::set<std::string> directory_relays_;  // control/ldaprcpthosts, lowercased
  std::string directory_error_;             // why the directory's settings could not be read
  std::set<std::string> badmailfrom_;  // lowercased addresses and "@domain"
  std::set<std::string> rcpthosts_;
  bool have_more_ = false;
  CdbReader more_;
  LocalDomains domains_;
  bool have_recipients_ = false;
  CdbReader recipients_;
};

// Which envelope senders and From: addresses an authenticated login may
// use (control/senderlogins, smtpd(8)): the addresses and @domains its
// entry lists; a login without an entry owns login@ and login-anything@
// every local domain (locals, virtualdomains), and a login that is itself
// an address at a local domain owns that address and its -extensions.
class SenderLogins {
 public:
  // Reads control/senderlogins, locals and virtualdomains; false with why
  // set when one is unreadable or an entry is malformed.
  bool load(std::string& why);
  bool owns(const std::string& login, const std::string& address) const;

 private:
  std::map<std::string, std::vector<std::string>> entries_;  // lowercased
  LocalDomains domains_;
};

// What the session needs of the TLS process in front of it (tlsd(8),
// through base/tls_channel): main.cpp gives the real one; none when smtpd
// runs without tlsd.
class Tls {
 public:
  virtual ~Tls() = default;
  virtual bool can_start() const = 0;  // STARTTLS may be offered
  virtual bool active() const = 0;     // the connection is encrypted
  virtual bool implicit() const = 0;   // TLS from the start (465)
  // Implicit TLS: waits for the handshake; false: the connection is over.
  virtual bool wait_implicit(int timeout) = 0;
  // After "220 Ready to start TLS" went out: the upgrade, with io's
  // buffered input thrown away (plaintext from before TLS). False: the
  // connection is over.
  virtual bool start(NetIO& io) = 0;
  // "TLSv1.3 with cipher ... (256/256 bits)", for Received: and the log.
  virtual std::string describe() const = 0;
};

// The message of one transaction, on its way into the queue.
class Incoming {
 public:
  // id names the message in the replies and log lines; received is the
  // Received: line that goes first.
  // origin: Origin::here for a client trusted to relay (authenticated or
  // RELAYCLIENT), whose mail is signed (dkimsign(8)); mail from any other
  // is checked (authcheck(8)) as from peer.
  Incoming(const smtp::Limits& limits, std::string id, const std::string& received, Origin origin,
           const Peer& peer);
  // Adds text in SMTP form (CRLF line ends, dot stuffing undone).
  void feed(std::string_view text);
  // Passes what text() has converted on to the queue.
  void drain();
  // Ends the text and queues the message: the SMTP reply. When it is a
  // refusal, why() says more than the reply for the log.
  std::string finish(const Envelope& envelope);
  smtp::MessageText& text() { return text_; }
  const std::string& why() const { return why_; }
  // For the "accepted" log line: queue's id, the size as received, and
  // the Message-ID: field as queued ("" when there is none).
  const std::string& queue_id() const { return queued_as_; }
  const std::string& received_id() const { return id_; }  // the 250 reply's and Received:'s id
  std::size_t size() const { return text_.size(); }
  std::string message_id() const;

  // Submission (RFC 6409): the header is held until it ends, every From:
  // address must be one login owns (or the message is refused), and a
  // Date: and Message-ID: naming host are added when missing.
  void complete(const SenderLogins& senders, std::string login, std::string host);
 private:
  // Writes text to the queue, keeping the header's start for message_id().
  bool to_queue(const std::string& text);
  // Passes converted text on, or holds it while the header is incomplete.
  void pass(std::string text);
  // The header is whole (or the text ended): checks, completes, sends it.
  void end_header();
  smtp::MessageText text_;
  const SenderLogins* senders_ = nullptr;
  std::string login_, host_;
  bool holding_ = false;  // complete() was called and the header is not yet sent
  std::string header_;
  message_rules::Checker header_end_;
  std::string refusal_;  // a From: the login does not own
  std::string id_;
  std::unique_ptr<QueueClient> queue_;
  bool write_failed_ = false;
  std::string head_;  // the first bytes queued, up to the header's end
  bool head_done_ = false;
  std::string why_, queued_as_;
};

// The key=value log lines (log_lines.cpp, smtpd(8) LOG): a refusal with
// its SMTP reply ("550 5.1.1 text"), helo, from and to given when known
// (empty helo, null pointers: not known), why when it says more than the
// reply's text; and a message queued.
std::string reject_line(const Client& client, const std::string& helo, const std::string* from,
                        const std::string* to, std::string_view reply, std::string_view why = {});
std::string accepted_line(const Client& client, const std::string& helo, const Envelope& envelope,
                          const Incoming& in, const std::string& tls_version, const std::string& login);

class Session {
 public:
  Session(NetIO& io, Policy& policy, const Client& client) : io_(io), policy_(policy), client_(client) {}
  // Greets the client and serves it until QUIT, end of input, a timeout or
  // too many errors. Returns the exit code.
  int run();
  // Called when a MAIL command is accepted (main.cpp ends the deadline for
  // the first one there).
  std::function<void()> on_mail_accepted;
  // The TLS process in front of smtpd, when there is one.
  Tls* tls = nullptr;
  // SMTP AUTH: asks the login parent to check a checkpassword request and
  // returns its one-byte answer (login::ask); unset: no AUTH offered.
  std::function<int(std::string_view request)> check_login;
  const SenderLogins* senders = nullptr;  // with check_login
  // Submission (smtpd -s, RFC 6409): AUTH before MAIL, senders checked,
  // messages completed.
  bool submission = false;

 private:
  // One command of the protocol and what it needs (session.cpp's table).
  struct Verb;
  static const Verb verbs[];
  bool command(const std::string& line);  // false: close the connection
  // The reply refusing v in the session's present state, or "".
  std::string out_of_place(const Verb& v) const;
  // Queues a reply; true, so a handler can end with `return reply(...)`.
  bool reply(const std::string& text);
  // The commands; each returns false to close the connection.
  bool helo(const std::string& arg);
  bool ehlo(const std::string& arg);
  bool greet(const std::string& arg, bool extended);
  bool mail(const std::string& arg);
  bool rcpt(const std::string& arg);
  bool data(const std::string& arg);
  bool bdat(const std::string& arg);
  bool rset(const std::string& arg);
  bool noop(const std::string& arg);
  bool vrfy(const std::string& arg);
  bool help(const std::string& arg);
  bool quit(const std::string& arg);
  bool auth(const std::string& arg);
  bool starttls(const std::string& arg);
  // The AUTH exchange's challenge-response lines; false: close.
  bool auth_exchange(const std::string& mechanism, const std::string& initial, std::string& user, int& answer);
  bool auth_offered() const { return check_login && tls && tls->active(); }
  void reset();
  std::unique_ptr<Incoming> start_message();
  std::string finish_message(Incoming& in);
  // Answers a bad command with text, or with 421 when there were too
  // many; false then (close the connection).
  bool error(const std::string& text);
  // Logs a refusal (reject_line, with what the session knows: helo, and
  // the sender inside a transaction) and sends the reply; with
  // counts_as_error, through error().
  bool refuse(const std::string& text, const std::string* to = nullptr, std::string_view why = {},
              bool counts_as_error = false);

  NetIO& io_;
  Policy& policy_;
  const Client& client_;
  std::string helo_;
  bool extended_ = false;
  bool have_mail_ = false;
  bool utf8_ = false;
  Envelope envelope_;
  std::unique_ptr<Incoming> chunks_;  // a BDAT transaction in progress
  // For a command whose bytes follow it (BDAT): the refusal to give once
  // they are read.
  std::string late_refusal_;
  int errors_ = 0;
  int unknown_rcpts_ = 0;
  std::string login_;  // who authenticated, or empty
};

}  // namespace postern::smtpd
