// quota: the QUOTA extension (RFC 9208) over Maildir++ quotas
// (mail/maildir_quota.hpp): one quota root per user, named after the
// login, holding every folder, with the STORAGE (in units of 1024
// octets) and MESSAGE resources that control/quotas sets. GETQUOTA and
// GETQUOTAROOT read maildirsize (recalculating it by Maildir++'s rules);
// APPEND and COPY that would pass a limit get NO [OVERQUOTA] and store
// nothing; EXPUNGE takes what it removed off maildirsize (imap_store) and
// lifts smtpd's over-quota mark (over_quota.hpp) once there is room.
// SETQUOTA runs setquota(8), which alone may change control/quotas and
// itself checks that the login is one of control/quotaadmins: the
// mailbox stage runs as the user and cannot, and is not trusted to.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "session.hpp"
#include "mail/conf.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/over_quota.hpp"
#include "mail/quota_limits.hpp"

namespace imapd {

namespace {

std::string resources(const maildir_quota::Limits& l, const maildir_quota::Usage& u) {
  std::string out;
  if (l.bytes) out = fmt::format("STORAGE {} {}", (std::max<std::int64_t>(u.bytes, 0) + 1023) / 1024, (l.bytes + 1023) / 1024);
  if (l.messages)
    out += fmt::format("{}MESSAGE {} {}", out.empty() ? "" : " ", std::max<std::int64_t>(u.messages, 0), l.messages);
  return out;
}

}  // namespace

std::optional<maildir_quota::Limits> Session::quota_limits_now() {
  std::string why;
  auto l = quota_limits::for_user(user_, why);
  if (!why.empty()) log::line("{}: {}", who_, why);
  return l;
}

bool Session::put_quota(const maildir_quota::Limits& l) {
  std::string why;
  auto u = maildir_quota::load(root_, l, why);
  if (!u) {
    log::line("{}: {}", who_, why);
    return false;
  }
  io_.put("* QUOTA " + quote(user_) + " (" + resources(l, *u) + ")\r\n");
  return true;
}

std::optional<maildir_quota::Limits> Session::folder_limits(const std::string& n) {
  std::string why;
  return quota_limits::for_folder(user_, n, why);
}

void Session::put_folder_quota(const std::string& n, const maildir_quota::Limits& l) {
  maildir_quota::Usage u = maildir_quota::count_folder(folder_dir(root_, n));
  io_.put("* QUOTA " + quote(user_ + "/" + n) + " (" + resources(l, u) + ")\r\n");
}

void Session::cmd_getquotaroot(Cmd& c) {
  auto name = c.p.astring();
  if (!name || !c.p.eol()) return bad(c.tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  struct stat st {};
  if (!valid_name(n) || ::stat((folder_dir(root_, n) + "/cur").c_str(), &st) != 0)
    return no(c.tag, "[NONEXISTENT] No such mailbox");
  auto l = quota_limits_now();
  if (!l) return no(c.tag, "[UNAVAILABLE] Cannot read the quotas");
  auto f = folder_limits(n);
  std::string roots;
  if (l->any()) roots += " " + quote(user_);
  if (f) roots += " " + quote(user_ + "/" + n);
  io_.put("* QUOTAROOT " + mailbox_out(n) + roots + "\r\n");
  if (l->any() && !put_quota(*l)) return no(c.tag, "[UNAVAILABLE] Cannot count the mailbox");
  if (f) put_folder_quota(n, *f);
  ok(c.tag, "GETQUOTAROOT completed");
}

void Session::cmd_getquota(Cmd& c) {
  auto root = c.p.astring();
  if (!root || !c.p.eol()) return bad(c.tag, "Bad arguments");
  // A folder's root: "user/Folder".
  if (root->size() > user_.size() + 1 && root->compare(0, user_.size() + 1, user_ + "/") == 0) {
    std::string n = root->substr(user_.size() + 1);
    auto f = valid_name(n) ? folder_limits(n) : std::nullopt;
    if (!f) return no(c.tag, "[NONEXISTENT] No such quota root");
    put_folder_quota(n, *f);
    return ok(c.tag, "GETQUOTA completed");
  }
  if (*root != user_) return no(c.tag, "[NONEXISTENT] No such quota root");
  auto l = quota_limits_now();
  if (!l) return no(c.tag, "[UNAVAILABLE] Cannot read the quotas");
  if (!l->any()) return no(c.tag, "[NONEXISTENT] No such quota root");
  if (!put_quota(*l)) return no(c.tag, "[UNAVAILABLE] Cannot count the mailbox");
  ok(c.tag, "GETQUOTA completed");
}

void Session::cmd_setquota(Cmd& c) {
  Parser& p = c.p;
  auto root = p.astring();
  if (!root || !p.sp() || !p.accept('(')) return bad(c.tag, "Bad arguments");
  maildir_quota::Limits want;
  while (!p.accept(')')) {
    auto res = p.atom();
    if (!res || !p.sp()) return bad(c.tag, "Bad resource list");
    auto n = p.number64();
    if (!n || *n > (std::uint64_t{1} << 40)) return bad(c.tag, "Bad resource limit");
    std::string r = upper(*res);
    if (r == "STORAGE")
      want.bytes = *n * 1024;
    else if (r == "MESSAGE")
      want.messages = *n;
    else
      return no(c.tag, "Unsupported resource " + log::printable(r, 40) + " (STORAGE and MESSAGE are)");
    p.sp();
  }
  if (!p.eol()) return bad(c.tag, "Unexpected arguments");
  if (!quota_limits::parse_line(*root + " 0 0")) return no(c.tag, "[NONEXISTENT] No such quota root");
  // setquota(8) decides whether this login may; its exit says.
  std::string storage = std::to_string(want.bytes), messages = std::to_string(want.messages);
  std::string prog = conf::path("bin/setquota");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(::open("/dev/null", O_RDWR), 1);
    execl(prog.c_str(), "setquota", "--", root->c_str(), storage.c_str(), messages.c_str(), nullptr);
    ::_exit(111);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return no(c.tag, "[SERVERBUG] Cannot run setquota");
  int code = WEXITSTATUS(status);
  log::line("{}: SETQUOTA {} ({}): setquota exit {}", who_, log::printable(*root, 64), quota_limits::format_line({*root, want}), code);
  if (code == 100) return no(c.tag, "[NOPERM] Only the quota administrators may set quotas");
  if (code != 0) return no(c.tag, "[SERVERBUG] setquota failed");
  if (*root == user_ && want.any()) put_quota(want);
  ok(c.tag, "SETQUOTA completed");
}

bool Session::quota_allows(const std::string& tag, const std::string& n, std::uint64_t bytes, std::uint64_t messages,
                           bool whole_mailbox) {
  if (auto f = folder_limits(n)) {
    maildir_quota::Usage u = maildir_quota::count_folder(folder_dir(root_, n));
    if (!maildir_quota::fits(*f, u, bytes, messages)) {
      log::line("{}: over the quota of {}: {} bytes, {} message(s) refused", who_, log::printable(n), bytes, messages);
      no(tag, "[OVERQUOTA] Quota of this folder exceeded (" + resources(*f, u) + ")");
      return false;
    }
  }
  if (!whole_mailbox) return true;
  auto l = quota_limits_now();
  if (!l || !l->any()) return true;
  std::string why;
  auto u = maildir_quota::load(root_, *l, why);
  if (!u) return true;  // an uncountable mailbox is not refused
  if (maildir_quota::fits(*l, *u, bytes, messages)) return true;
  log::line("{}: over quota: {} bytes, {} message(s) refused", who_, bytes, messages);
  no(tag, "[OVERQUOTA] Quota exceeded (" + resources(*l, *u) + ")");
  return false;
}

void Session::quota_freed() { over_quota::recheck(user_, root_); }

}  // namespace imapd
