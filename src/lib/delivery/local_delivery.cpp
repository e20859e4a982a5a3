// local_delivery: the sequence of one local delivery (local_delivery.hpp),
// qmail-local's:
//   1. refuses a home directory others can write to, or one marked sticky
//      (the user is editing .qmail),
//   2. bounces a message that already has Delivered-To: RECIPIENT (a loop),
//   3. finds the instructions: .qmail, .qmail-EXT or its -default
//      fall-backs, or DEFAULTDELIVERY when the address has no extension and
//      no file, and bounces an extension that has no file,
//   4. checks every line before doing any, so a typo defers the message
//      instead of delivering half of it,
//   5. delivers line by line: Maildir, mbox, |program (which may stop the
//      rest with exit 99), collecting the forwards, which go out last as one
//      new message through the queue,
//   6. stops at the first failure; what was already delivered is delivered
//      again on the retry (qmail's rule: twice rather than never).
// Runs as the recipient with the message on fd 0; returns the Outcome.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <new>

#include "base/io.hpp"
#include "base/log.hpp"
#include "delivery/biff.hpp"
#include "delivery/local_parts.hpp"
#include "mail/dot_qmail.hpp"
#include "mail/maildir.hpp"
#include "mail/mbox.hpp"

namespace postern::delivery {

namespace {

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch == '\n') ch = '_';
  return out;
}

Context make_context(const LocalArgs& a) {
  Context c;
  c.user = a.user;
  c.home = a.home;
  c.local = a.local;
  c.dash = a.dash;
  c.ext = a.ext;
  c.domain = a.domain;
  c.sender = a.sender;
  c.default_delivery = a.instructions;
  c.recipient = c.local + "@" + c.domain;
  c.dtline = "Delivered-To: " + one_line(c.recipient) + "\n";
  c.rpline = "Return-Path: <" + one_line(c.sender) + ">\n";
  c.ufline = mbox::from_line(c.sender, std::time(nullptr));
  return c;
}

// True when dir does not exist and the directory it would be made in does,
// belongs to us and is no one else's to write.
bool owned_parent(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  struct stat st {};
  if (::lstat(d.c_str(), &st) == 0 || errno != ENOENT) return false;
  std::string parent = d.find('/') == std::string::npos ? "." : dir_of(d);
  return ::stat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::getuid() && !(st.st_mode & 022);
}

Outcome deliver_maildir(const Context& c, const std::string& dir) {
  QuotaCheck quota;
  if (Outcome o = quota_before(c, dir, quota); !o.ok()) return o;
  if (!rewind_message())
    return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  auto r = maildir::deliver(dir, c.rpline + c.dtline, 0);
  if (r.ok) quota_after(c, quota, dir, r.size);
  if (r.ok) notify_biff(c.user, 0, r.text, c.home);
  if (r.ok) return {status::ok, "delivered to " + dir};
  // A new account has no Maildir yet: make it, as Postfix does, where the
  // directory above it is the user's own (the home, mostly). Anywhere else
  // a missing Maildir stays a deferral (a typo in .qmail, an unmounted disk).
  if (r.error_number == ENOENT && owned_parent(dir)) {
    if (!maildir::create(dir) && errno != EEXIST && errno != ENOTEMPTY)
      return temporary("Unable to make the Maildir " + dir + ": " + std::strerror(errno) + ". (#4.2.1)");
    if (!rewind_message())
      return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
    r = maildir::deliver(dir, c.rpline + c.dtline, 0);
    if (r.ok) quota_after(c, quota, dir, r.size);
    if (r.ok) notify_biff(c.user, 0, r.text, c.home);
    if (r.ok) return {status::ok, "delivered to " + dir + " (made it)"};
  }
  const char* code = "(#4.3.0)";
  if (r.error_number == ENOENT || r.error_number == ENOTDIR) code = "(#4.2.1)";
  if (r.error_number == ENOSPC || r.error_number == EDQUOT) code = "(#4.2.2)";
  return temporary("Unable to deliver to Maildir " + dir + ": " + r.text + ". " + code);
}

Outcome deliver_mbox(const Context& c, const std::string& path) {
  if (!rewind_message())
    return temporary(std::string("Unable to rewind message: ") + std::strerror(errno) + ". (#4.3.0)");
  auto r = mbox::deliver(path, c.ufline, c.rpline + c.dtline, 0);
  if (r.ok) notify_biff(c.user, r.offset, path, c.home);
  if (r.ok) return {status::ok, "delivered to " + path};
  const char* code = "(#4.3.0)";
  if (r.error_number == ENOSPC || r.error_number == EDQUOT) code = "(#4.2.2)";
  if (r.error_number == ETIMEDOUT) code = "(#4.2.0)";
  return temporary("Unable to deliver to mbox " + path + ": " + r.text + ". " + code);
}

}  // namespace

Outcome deliver_local(const LocalArgs& args) {
  Context c = make_context(args);
  if (c.home.empty() || c.home[0] != '/') return temporary("local: HOME is not an absolute path. (#4.3.5)");
  if (::chdir(c.home.c_str()) != 0)
    return temporary("Unable to switch to " + c.home + ": " + std::strerror(errno) + ". (#4.3.0)");

  if (Outcome o = check_home(); !o.ok()) return o;
  if (Outcome o = prepare_message(); !o.ok()) return o;
  if (Outcome o = check_loop(c); !o.ok()) return o;

  std::string text, source;
  if (args.given) {
    text = c.default_delivery;
    source = "the instructions given";
  } else if (Outcome o = find_instructions(c, text, source); !o.ok()) {
    return o;
  }
  auto lines = dot_qmail::parse(text);

  std::vector<std::string> forwards;
  for (const auto& line : lines) {
    if (line.kind == dot_qmail::Kind::invalid)
      return temporary("Uh-oh: " + source + " has a line I do not understand: " + line.value + " (#4.7.0)");
    if (line.kind == dot_qmail::Kind::forward && !forward_address(c, line.value))
      return temporary("Uh-oh: " + source + " forwards to an invalid address: " + line.value + " (#4.7.0)");
  }
  if (lines.empty()) return temporary("Uh-oh: " + source + " has no delivery instructions. (#4.7.0)");

  std::string done;
  auto did = [&](const std::string& what) { done += (done.empty() ? "" : "; ") + what; };
  for (const auto& line : lines) {
    Outcome o;
    bool stop = false;
    switch (line.kind) {
      case dot_qmail::Kind::maildir: o = deliver_maildir(c, line.value); break;
      case dot_qmail::Kind::mbox: o = deliver_mbox(c, line.value); break;
      case dot_qmail::Kind::program: o = run_program(c, line.value, stop); break;
      case dot_qmail::Kind::forward: forwards.push_back(*forward_address(c, line.value)); continue;
      case dot_qmail::Kind::invalid: break;  // refused above
    }
    if (!o.ok()) return o;
    did(o.text);
    if (stop) break;
  }
  if (!forwards.empty()) {
    Outcome o = forward(c, forwards);
    if (!o.ok()) return o;
    did(o.text);
  }
  return {status::ok, done};
}

void finish_local(const Outcome& o) {
  std::string text = log::printable(o.text.empty() ? "delivered" : o.text, 990);
  write_all(1, text + "\n");
  std::_Exit(o.code == status::ok_stop ? status::ok : o.code);
}

Outcome deliver_local_caught(const LocalArgs& args) {
  try {
    return deliver_local(args);
  } catch (const std::bad_alloc&) {
    return temporary("Out of memory. (#4.3.0)");
  } catch (const std::exception& e) {
    log::line("unexpected error: {}", e.what());
    return temporary(std::string("Unexpected error: ") + e.what() + ". (#4.3.0)");
  }
}

void run_local(const LocalArgs& args) {
  log::set_program("local");
  ::umask(077);
  ::signal(SIGPIPE, SIG_IGN);
  finish_local(deliver_local_caught(args));
}

}  // namespace postern::delivery
