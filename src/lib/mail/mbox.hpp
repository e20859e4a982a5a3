// mbox: appending one message to a Unix mbox file (the "mboxo" format of
// qmail and procmail): a "From sender date" line, the message with every
// line matching ^>*From quoted by one more '>', a final newline if the
// message lacked one, and one blank line.
//
// The mailbox is locked with a dot lock (mailbox.lock) and then an fcntl
// lock, the order procmail uses, so mutt, mail(1), procmail and other
// postern processes never interleave. On any failure the file is cut back
// to its old length: a reader never sees half a message. Runs with the
// caller's privileges and trusts the caller for the path, with one guard:
// a symbolic link is followed only when it belongs to us or to root, and
// only a regular file is written (so /var/mail/joe -> ~joe/.profile planted
// by someone else, or a fifo, gets a failure, not a write).
#pragma once
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace postern::mbox {

// "From <sender> <asctime date>\n". The null sender is written as
// MAILER-DAEMON; spaces, tabs and newlines in the sender become '-' so the
// line stays one line of three fields (what readers split on).
std::string from_line(std::string_view sender, std::time_t t);

// Streams message bytes through the >From quoting. Feed any chunking;
// the result is as if the whole message had been quoted at once.
class FromQuoter {
 public:
  void feed(std::string_view in, std::string& out);
  // Emits a partial "From" held back at the end of the input.
  void finish(std::string& out);

 private:
  bool at_start_ = true;   // at the start of a line, after any '>'s
  std::size_t matched_ = 0;  // bytes of "From " seen and held back
};

// The whole of mbox quoting, for tests and small messages.
std::string quote(std::string_view message);

struct Options {
  std::chrono::seconds lock_timeout{60};
  std::chrono::seconds stale_lock{300};
};

struct Result {
  bool ok = false;
  int error_number = 0;  // ETIMEDOUT when the mailbox stayed locked
  std::string text;
  std::uint64_t offset = 0;  // where the new message starts (for comsat)
};

// Appends from_line, prefix (header lines such as Return-Path: and
// Delivered-To:, not quoted), and the rest of the message on fd, quoted,
// to the mbox at path (created with mode 0600 when missing), then fsyncs.
Result deliver(const std::string& path, std::string_view from_line, std::string_view prefix,
               int fd, const Options& options = {});

}  // namespace postern::mbox
