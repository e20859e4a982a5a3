// over_quota: the marks that tell smtpd a user's mailbox is full, so that
// it can refuse RCPT with 452 4.2.2 and nothing is queued for nothing.
// smtpd (posternd) may not read anyone's Maildir; the processes that run
// as the user (local when it defers a delivery over quota, imapd's and
// pop3d's mailbox stages when they free space) leave or remove an empty
// file conf-home/quota/NAME. That directory is like /tmp (mode 1733:
// anyone may create, only the owner may remove, nobody may list), and
// smtpd believes a mark only when the password database's owner of NAME
// owns it (any owner in a single-user install) and it is less than an
// hour old: local renews it at each deferral, so a user who freed space
// in a way postern does not see (rm in a shell) waits an hour at most.
// A mark nobody may believe is ignored; the delivery is still deferred
// by local, so the worst a forged or stale mark does is nothing at all.
#pragma once
#include <string>
#include <string_view>

namespace postern::over_quota {

// Names that can be marks: no '/', no leading '.', printable, short.
bool valid_name(std::string_view user);

// As the user: leave the mark (or renew its time) / remove it.
void mark(std::string_view user);
void unmark(std::string_view user);

// As the user, after messages left the Maildir at root: removes the mark
// when the user has one and the mailbox is within its limits again.
void recheck(std::string_view user, const std::string& root);

// As smtpd: whether user has a mark it may believe.
bool marked(std::string_view user);

}  // namespace postern::over_quota
