// local_quota: the quota steps of a Maildir delivery (local_parts.hpp).
// A message that would take the user past a limit is deferred (4.2.2,
// "mailbox full"), to be retried until queuelifetime and then bounced, as
// Postfix's and Dovecot's LDA do; the deferral also leaves the mark that
// has smtpd refuse the user's mail at RCPT (over_quota.hpp). A delivery
// that takes the usage past control/quotawarn's percentage puts one
// warning into the Maildir itself (Cyrus's quotawarn): it comes from the
// one delivery that crossed the line, not from every one after it, and
// it is never refused for quota.
// Runs as the recipient; trusts the control files, not maildirsize.
#include <sys/stat.h>

#include <ctime>
#include <string>

#include "base/date.hpp"
#include "base/log.hpp"
#include "base/unique.hpp"
#include "delivery/local_parts.hpp"
#include "mail/control.hpp"
#include "mail/maildir.hpp"
#include "mail/over_quota.hpp"
#include "mail/quota_limits.hpp"

namespace postern::delivery {

namespace {

std::string kb(std::int64_t bytes) { return std::to_string((bytes + 1023) / 1024) + " KB"; }

std::string usage_text(const maildir_quota::Limits& l, const maildir_quota::Usage& u) {
  std::string out;
  if (l.bytes) out = kb(u.bytes) + " of " + kb(static_cast<std::int64_t>(l.bytes));
  if (l.messages)
    out += (out.empty() ? "" : ", ") + std::to_string(u.messages) + " of " + std::to_string(l.messages) + " messages";
  return out;
}

void warn(const Context& c, const std::string& dir, const std::string& root, const maildir_quota::Limits& l, const maildir_quota::Usage& u,
          unsigned percent) {
  std::string me = control::line("me", host_name()).value_or(host_name());
  std::string text =
      "Return-Path: <>\n"
      "Date: " + rfc5322_date(std::time(nullptr)) + "\n"
      "From: Mail Delivery System <MAILER-DAEMON@" + me + ">\n"
      "To: " + c.recipient + "\n"
      "Subject: Your mailbox is " + std::to_string(percent) + "% full\n"
      "Message-ID: <" + std::to_string(std::time(nullptr)) + "." + random_hex(8) + ".quotawarn@" + me + ">\n"
      "Auto-Submitted: auto-generated\n"
      "MIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=us-ascii\n"
      "\n"
      "Your mailbox now holds " + usage_text(l, u) + " allowed.\n"
      "\n"
      "When it is full, new mail for you waits on the server and is returned\n"
      "to its senders if it still does not fit after some days. Delete old\n"
      "messages, and empty the Trash, to make room.\n";
  maildir::Writer w(dir);
  if (w.open() && w.write(text) && w.commit())
    maildir_quota::record(root, static_cast<std::int64_t>(w.size()), 1);
  else
    log::line("unable to leave the quota warning for {} in {}: {}", c.user, dir, w.error());
}

// A Maildir++ folder with a root of its own ("user/Folder" in
// control/quotas): counted from its files, and deferred when full.
Outcome folder_before(const Context& c, const std::string& dir, std::uint64_t size) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  if (maildir_quota::root_of(d) == d) return {status::ok, ""};
  std::string name = d.substr(d.rfind('/') + 1);
  if (name.size() < 2 || name[0] != '.') return {status::ok, ""};
  std::string why;
  auto limits = quota_limits::for_folder(c.user, name.substr(1), why);
  if (!limits) return {status::ok, ""};
  maildir_quota::Usage u = maildir_quota::count_folder(d);
  if (maildir_quota::fits(*limits, u, size, 1)) return {status::ok, ""};
  return temporary("The folder " + name.substr(1) + " of " + c.user + " is full (" + usage_text(*limits, u) +
                   " used). (#4.2.2)");
}

}  // namespace

Outcome quota_before(const Context& c, const std::string& dir, QuotaCheck& q) {
  std::string why;
  struct stat st {};
  std::uint64_t size = c.rpline.size() + c.dtline.size();
  if (::fstat(0, &st) == 0) size += static_cast<std::uint64_t>(st.st_size);
  if (Outcome o = folder_before(c, dir, size); !o.ok()) return o;
  auto limits = quota_limits::for_user(c.user, why);
  if (!limits) return temporary("Unable to read the quotas: " + why + ". (#4.3.0)");
  if (!limits->any()) return {status::ok, ""};
  q.root = maildir_quota::root_of(dir);
  auto usage = maildir_quota::load(q.root, *limits, why);
  if (!usage) return {status::ok, ""};  // no Maildir yet: nothing to count
  q.on = true;
  q.limits = *limits;
  if (maildir_quota::fits(q.limits, *usage, size, 1)) return {status::ok, ""};
  over_quota::mark(c.user);
  return temporary("The mailbox of " + c.user + " is full (" + usage_text(q.limits, *usage) +
                   " used). (#4.2.2)");
}

void quota_after(const Context& c, const QuotaCheck& q, const std::string& dir, std::uint64_t size) {
  std::string root = q.on ? q.root : maildir_quota::root_of(dir);
  auto before = maildir_quota::add(root, static_cast<std::int64_t>(size), 1);
  if (!q.on || !before) return;
  maildir_quota::Usage after{before->bytes + static_cast<std::int64_t>(size), before->messages + 1};
  if (maildir_quota::fits(q.limits, after, 0, 0)) over_quota::unmark(c.user);
  unsigned percent = quota_limits::warn_percent();
  if (quota_limits::crossed(q.limits, *before, after, percent)) warn(c, dir, root, q.limits, after, percent);
}

}  // namespace postern::delivery
